//! The actix layer: routes, extractors, middleware and the three response error types
//! (`OAuthError`, `ApiError`, `PageError`). Handlers validate, call one service
//! function and respond.

pub mod admin;
pub mod console;
pub mod extract;
pub mod latency;
pub mod limits;
pub mod middleware;
pub mod ops;
pub mod pages;
pub mod protocol;
pub mod state;

use actix_web::{guard, web};

/// Register every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use protocol::*;
    // Every tenant endpoint lives in one scope, for the paths `/t/{slug}/…`. The edge
    // middleware has already taken the `/t/{slug}` prefix off such a path (see
    // `middleware::take_tenant_prefix`), so the router compares static inner paths only;
    // the guard keeps every other request out. Inside, the endpoints resource servers and
    // clients call on every request come first. The scope answers 404 itself for an
    // unknown inner path, so no `/t/…` route may live outside it.
    cfg.service(
        web::scope("")
            .guard(guard::fn_guard(middleware::is_tenant_request))
            .service(introspect::post_introspect)
            .service(token::post_token)
            .service(jwks::get_jwks)
            .service(discovery::get_openid_configuration)
            .service(discovery::get_oauth_metadata)
            .service(revoke::post_revoke)
            // The three endpoints above are POST only (RFC 6749 §3.2, RFC 7662 §2.1,
            // RFC 7009 §2.1); any other method on their paths is 405, not an unknown route.
            .service(
                web::resource(["/token", "/introspect", "/revoke"]).to(protocol::error::post_only),
            )
            .service(register::post_register)
            .service(register::get_registration)
            .service(register::put_registration)
            .service(register::delete_registration)
            .service(
                web::resource("/acl/evaluate")
                    .app_data(web::PayloadConfig::new(acl_evaluate::MAX_BODY))
                    .route(web::post().to(acl_evaluate::post_acl_evaluate)),
            )
            .service(
                web::resource("/authorize")
                    .route(web::get().to(authorize::authorize))
                    .route(web::post().to(authorize::authorize)),
            )
            .service(
                web::resource("/userinfo")
                    .route(web::get().to(userinfo::userinfo))
                    .route(web::post().to(userinfo::userinfo)),
            )
            .service(
                web::resource("/logout")
                    .route(web::get().to(logout::logout))
                    .route(web::post().to(logout::logout)),
            )
            .service(
                web::resource("/login")
                    .route(web::get().to(pages::login::get_login))
                    .route(web::post().to(pages::login::post_login)),
            )
            .service(
                web::resource("/login/2fa")
                    .route(web::get().to(pages::second_factor::get_second_factor))
                    .route(web::post().to(pages::second_factor::post_second_factor)),
            )
            .service(
                web::resource("/account/2fa")
                    .route(web::get().to(pages::account::get_account_2fa))
                    .route(web::post().to(pages::account::post_account_2fa)),
            )
            .service(
                web::resource("/account/consents")
                    .route(web::get().to(pages::account_consents::get_account_consents))
                    .route(web::post().to(pages::account_consents::post_account_consents)),
            )
            .route(
                "/sso/{connection}",
                web::get().to(pages::sso::get_sso_start),
            )
            .route(
                "/sso/{connection}/callback",
                web::get().to(pages::sso::get_sso_callback),
            )
            .service(
                web::resource("/consent")
                    .route(web::get().to(pages::consent::get_consent))
                    .route(web::post().to(pages::consent::post_consent)),
            ),
    )
    .service(ops::get_healthz)
    .service(ops::get_readyz)
    .service(ops::get_metrics)
    .service(discovery::get_oauth_metadata_inserted)
    .service(discovery::get_openid_configuration_inserted)
    .configure(admin::configure)
    .configure(console::configure);
}
