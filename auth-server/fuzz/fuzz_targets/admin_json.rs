//! Admin API JSON bodies: strict decoding (unknown members, wrong types, malformed JSON
//! are 400 naming a field) and the domain validation after it. Never a panic, and every
//! error names a field.
#![no_main]

use auth_server::domain::connection::{ConnectionInput, validate};
use auth_server::http::admin::acl_dto::AppBody;
use auth_server::http::admin::decode;
use auth_server::http::admin::dto::{ClientBody, CreateSubscription, UserBody};
use libfuzzer_sys::fuzz_target;

fn named<T>(r: &Result<T, auth_server::http::admin::error::ApiError>) {
    if let Err(e) = r {
        assert!(e.field.as_deref().is_some_and(|f| !f.is_empty()), "{e:?}");
    }
}

fuzz_target!(|body: &[u8]| {
    let client = decode::<ClientBody>(body);
    named(&client);
    if let Ok(c) = client {
        let _ = c.into_spec();
    }
    named(&decode::<CreateSubscription>(body));
    named(&decode::<UserBody>(body));
    named(&decode::<AppBody>(body));
    let connection = decode::<ConnectionInput>(body);
    named(&connection);
    if let Ok(c) = connection {
        let _ = validate(&c, false);
        let _ = validate(&c, true);
    }
});
