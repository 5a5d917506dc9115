//! The actix layer: routes, extractors, middleware and the three response error types
//! (`OAuthError`, `ApiError`, `PageError`). Handlers validate, call one service
//! function and respond.

pub mod admin;
pub mod console;
pub mod extract;
pub mod limits;
pub mod middleware;
pub mod ops;
pub mod pages;
pub mod protocol;
pub mod state;

use actix_web::web;

/// Register every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    use protocol::*;
    // The router tries resources in this order, one pattern match each: the endpoints
    // resource servers and clients call on every request come first.
    cfg.service(introspect::post_introspect)
        .service(token::post_token)
        .service(jwks::get_jwks)
        .service(discovery::get_openid_configuration)
        .service(discovery::get_oauth_metadata)
        .service(revoke::post_revoke)
        // The three endpoints above are POST only (RFC 6749 §3.2, RFC 7662 §2.1, RFC
        // 7009 §2.1); any other method on their paths is 405, not an unknown route.
        .service(
            web::resource([
                "/t/{slug}/token",
                "/t/{slug}/introspect",
                "/t/{slug}/revoke",
            ])
            .to(protocol::error::post_only),
        )
        .service(ops::get_healthz)
        .service(ops::get_readyz)
        .service(ops::get_metrics)
        .service(discovery::get_oauth_metadata_inserted)
        .service(discovery::get_openid_configuration_inserted)
        .service(register::post_register)
        .service(register::get_registration)
        .service(register::put_registration)
        .service(register::delete_registration)
        .service(
            web::resource("/t/{slug}/acl/evaluate")
                .app_data(web::PayloadConfig::new(acl_evaluate::MAX_BODY))
                .route(web::post().to(acl_evaluate::post_acl_evaluate)),
        )
        .route("/t/{slug}/authorize", web::get().to(authorize::authorize))
        .route("/t/{slug}/authorize", web::post().to(authorize::authorize))
        .route("/t/{slug}/userinfo", web::get().to(userinfo::userinfo))
        .route("/t/{slug}/userinfo", web::post().to(userinfo::userinfo))
        .route("/t/{slug}/logout", web::get().to(logout::logout))
        .route("/t/{slug}/logout", web::post().to(logout::logout))
        .route("/t/{slug}/login", web::get().to(pages::login::get_login))
        .route("/t/{slug}/login", web::post().to(pages::login::post_login))
        .route(
            "/t/{slug}/login/2fa",
            web::get().to(pages::second_factor::get_second_factor),
        )
        .route(
            "/t/{slug}/login/2fa",
            web::post().to(pages::second_factor::post_second_factor),
        )
        .route(
            "/t/{slug}/account/2fa",
            web::get().to(pages::account::get_account_2fa),
        )
        .route(
            "/t/{slug}/account/2fa",
            web::post().to(pages::account::post_account_2fa),
        )
        .route(
            "/t/{slug}/account/consents",
            web::get().to(pages::account_consents::get_account_consents),
        )
        .route(
            "/t/{slug}/account/consents",
            web::post().to(pages::account_consents::post_account_consents),
        )
        .route(
            "/t/{slug}/sso/{connection}",
            web::get().to(pages::sso::get_sso_start),
        )
        .route(
            "/t/{slug}/sso/{connection}/callback",
            web::get().to(pages::sso::get_sso_callback),
        )
        .route(
            "/t/{slug}/consent",
            web::get().to(pages::consent::get_consent),
        )
        .route(
            "/t/{slug}/consent",
            web::post().to(pages::consent::post_consent),
        )
        .configure(admin::configure)
        .configure(console::configure);
}
