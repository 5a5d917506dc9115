//! The form body of `/token`, `/introspect`, `/revoke` and the query of `/authorize`:
//! never a panic, and the decoded map agrees with an independent decoder
//! (`serde_urlencoded`): every non-empty parameter once, `resource` collected apart.
#![no_main]

use auth_server::http::extract::Params;
use libfuzzer_sys::fuzz_target;
use std::collections::HashMap;

fuzz_target!(|text: &str| {
    let reference: Vec<(String, String)> = serde_urlencoded::from_str(text).unwrap_or_default();
    match Params::parse(text) {
        Ok(p) => {
            let mut expected: HashMap<String, String> = HashMap::new();
            let mut resources = Vec::new();
            for (k, v) in reference {
                if k == "resource" {
                    resources.push(v);
                } else if !v.is_empty() {
                    assert!(expected.insert(k, v).is_none(), "a duplicate was accepted");
                }
            }
            assert_eq!(p.map, expected);
            assert_eq!(p.resources, resources);
        }
        Err(name) => {
            let count = reference
                .iter()
                .filter(|(k, v)| *k == name && !v.is_empty())
                .count();
            assert!(
                count > 1,
                "{name} refused as a duplicate but appears {count} times"
            );
        }
    }
});
