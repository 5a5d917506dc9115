//! RFC 8707 resource indicators: which audiences a token may be bound to, and how a
//! token request may narrow the resources an authorization granted (§2.2: the code and
//! refresh grants may ask for a subset, never for more).

use crate::domain::{Client, Scope, Subscription};
use crate::service::FlowError;

/// The audience of an access token: the requested resources when allowed, else the
/// client's configured audience, else its client id (DESIGN.md "Clients").
pub fn audience(
    sub: &Subscription,
    client: &Client,
    scope: &Scope,
    resources: &[String],
) -> Result<Vec<String>, FlowError> {
    for r in resources {
        let parsed = url::Url::parse(r).map_err(|_| {
            FlowError::InvalidTarget(format!("resource {r:?} is not an absolute URI"))
        })?;
        if parsed.fragment().is_some() {
            return Err(FlowError::InvalidTarget(
                "resource must not contain a fragment".into(),
            ));
        }
        let allowed = client.spec.allowed_resources.iter().any(|a| a == r)
            || (scope.contains("mcp") && sub.settings.mcp_resources.iter().any(|a| a == r));
        if !allowed {
            return Err(FlowError::InvalidTarget(format!(
                "resource {r:?} is not allowed for this client"
            )));
        }
    }
    Ok(if !resources.is_empty() {
        resources.to_vec()
    } else if !client.spec.audience.is_empty() {
        client.spec.audience.clone()
    } else {
        vec![client.client_id.clone()]
    })
}

/// The resources of a token request against an earlier grant: none asked → the whole
/// grant; otherwise each asked resource must be in the grant (RFC 8707 §2.2), so a
/// refresh or code exchange can narrow the audience but never widen it.
pub fn narrow(granted: &[String], asked: &[String]) -> Result<Vec<String>, FlowError> {
    if asked.is_empty() {
        return Ok(granted.to_vec());
    }
    if let Some(extra) = asked.iter().find(|r| !granted.contains(r)) {
        return Err(FlowError::InvalidTarget(format!(
            "resource {extra:?} was not part of the original authorization"
        )));
    }
    Ok(asked.to_vec())
}

#[cfg(test)]
mod tests {
    use super::narrow;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_resource_asked_keeps_the_whole_grant() {
        assert_eq!(
            narrow(&v(&["https://a/", "https://b/"]), &[]).unwrap(),
            v(&["https://a/", "https://b/"])
        );
    }

    #[test]
    fn a_subset_narrows_the_audience() {
        assert_eq!(
            narrow(&v(&["https://a/", "https://b/"]), &v(&["https://b/"])).unwrap(),
            v(&["https://b/"])
        );
    }

    #[test]
    fn a_resource_outside_the_grant_is_an_invalid_target() {
        assert!(narrow(&v(&["https://a/"]), &v(&["https://b/"])).is_err());
        assert!(narrow(&[], &v(&["https://a/"])).is_err());
    }
}
