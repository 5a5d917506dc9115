//! Whether a login needs a local second factor: one pure function that the password
//! login calls today and the federation (upstream SSO) login calls with the upstream's
//! `amr`/`acr` ("2FA through the SSO provider", DESIGN.md).
//!
//! Inputs: the effective policy (subscription, overridden by the user's workspace
//! groups), whether the user has a confirmed TOTP, the first factor's result and
//! whether the client asked for a step-up. Output: [`SecondFactor`]. The `amr`/`acr`
//! a session then carries are computed here too, so tokens say what really happened.

use serde::{Deserialize, Serialize};

/// `acr` of a session authenticated with one factor.
pub const ACR_SINGLE: &str = "1fa";
/// `acr` of a session with a second factor (local TOTP/recovery code, or upstream MFA).
/// A client sends `acr_values=2fa` to require it (step-up).
pub const ACR_MFA: &str = "2fa";

/// Upstream `amr` values that count as a second factor unless a connection says
/// otherwise (DESIGN.md "Contract details").
pub const DEFAULT_MFA_AMR: [&str; 6] = ["mfa", "otp", "hwk", "swk", "sms", "fido"];

/// 2FA policy of a subscription or a workspace group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MfaPolicy {
    /// No second factor is offered or asked.
    Off,
    /// Users may enrol; enrolled users are asked at every login.
    Optional,
    /// Every user must have a second factor; unenrolled users enrol at login.
    Required,
}

impl MfaPolicy {
    /// Parse `off | optional | required`.
    pub fn parse(s: &str) -> Option<MfaPolicy> {
        match s {
            "off" => Some(MfaPolicy::Off),
            "optional" => Some(MfaPolicy::Optional),
            "required" => Some(MfaPolicy::Required),
            _ => None,
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            MfaPolicy::Off => "off",
            MfaPolicy::Optional => "optional",
            MfaPolicy::Required => "required",
        }
    }
}

/// The policy that applies to a user: the subscription's, unless one of the user's
/// workspace groups overrides it; with several overrides the strictest wins, so being
/// added to a lenient group never lowers what a stricter group demands.
pub fn effective_policy(subscription: MfaPolicy, group_overrides: &[MfaPolicy]) -> MfaPolicy {
    group_overrides
        .iter()
        .copied()
        .max()
        .unwrap_or(subscription)
}

/// How a connection's upstream MFA is trusted (from the connection's settings).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpstreamTrust {
    /// `false` = "always ask for our TOTP": the upstream's MFA claims are ignored.
    pub trust_upstream_mfa: bool,
    /// Upstream `amr` values that count as a second factor.
    pub mfa_amr_values: Vec<String>,
    /// Upstream `acr` values that count as a second factor.
    pub mfa_acr_values: Vec<String>,
}

impl Default for UpstreamTrust {
    fn default() -> Self {
        UpstreamTrust {
            trust_upstream_mfa: true,
            mfa_amr_values: DEFAULT_MFA_AMR.iter().map(|s| (*s).to_owned()).collect(),
            mfa_acr_values: Vec::new(),
        }
    }
}

/// The result of the first factor, carried through the second step into the session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FirstFactor {
    /// `amr` of the first factor: `["pwd"]` for a password, the upstream's values for
    /// a federated login.
    pub amr: Vec<String>,
    /// The upstream's `acr`, when federated.
    pub acr: Option<String>,
    /// Set for a federated login: how far the upstream is trusted.
    pub upstream: Option<UpstreamTrust>,
}

impl FirstFactor {
    /// A local password login.
    pub fn password() -> FirstFactor {
        FirstFactor {
            amr: vec!["pwd".into()],
            acr: None,
            upstream: None,
        }
    }

    /// A login through an upstream OIDC connection, with the upstream ID token's
    /// `amr` and `acr`.
    pub fn federated(amr: Vec<String>, acr: Option<String>, trust: UpstreamTrust) -> FirstFactor {
        FirstFactor {
            amr,
            acr,
            upstream: Some(trust),
        }
    }

    /// Whether a trusted upstream already performed a second factor.
    pub fn upstream_mfa(&self) -> bool {
        let Some(t) = &self.upstream else {
            return false;
        };
        t.trust_upstream_mfa
            && (self.amr.iter().any(|a| t.mfa_amr_values.contains(a))
                || self
                    .acr
                    .as_ref()
                    .is_some_and(|a| t.mfa_acr_values.contains(a)))
    }
}

/// What the login must do after the first factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondFactor {
    /// Nothing more: the session is single-factor.
    NotNeeded,
    /// The upstream's MFA satisfies the policy: no local step.
    MetUpstream,
    /// Ask the TOTP (or a recovery code).
    AskTotp,
    /// Required but not enrolled: enrol now, before any code is issued; cannot be skipped.
    Enrol,
}

/// The decision. A step-up (`acr_values=2fa`) follows the same rules: an unenrolled
/// user under an optional policy cannot give a second factor, so the login goes on and
/// the session's `acr` tells the client the truth (OIDC Core §3.1.2.1: `acr_values` is
/// a voluntary request).
pub fn requires_second_factor(
    policy: MfaPolicy,
    enrolled: bool,
    first: &FirstFactor,
) -> SecondFactor {
    match policy {
        MfaPolicy::Off => SecondFactor::NotNeeded,
        _ if first.upstream_mfa() => SecondFactor::MetUpstream,
        _ if enrolled => SecondFactor::AskTotp,
        MfaPolicy::Required => SecondFactor::Enrol,
        MfaPolicy::Optional => SecondFactor::NotNeeded,
    }
}

/// The session's `amr` (RFC 8176 values): `pwd` or `fed` plus the upstream's values,
/// and `otp` when a local TOTP or recovery code was given.
pub fn session_amr(first: &FirstFactor, local_otp: bool) -> Vec<String> {
    let mut amr: Vec<String> = Vec::new();
    if first.upstream.is_some() {
        amr.push("fed".into());
    }
    for a in first
        .amr
        .iter()
        .chain(local_otp.then_some(&"otp".to_owned()))
    {
        if !amr.contains(a) {
            amr.push(a.clone());
        }
    }
    amr
}

/// The session's `acr`.
pub fn session_acr(first: &FirstFactor, local_otp: bool) -> &'static str {
    if local_otp || first.upstream_mfa() {
        ACR_MFA
    } else {
        ACR_SINGLE
    }
}

/// Whether a live session must give its second factor again for this request: the
/// client asked for `acr_values=2fa` and the session has none, or (with `max_age`)
/// its second factor is older than `max_age` seconds.
pub fn step_up_needed(
    acr_values: &[String],
    session_mfa_at: Option<i64>,
    max_age: Option<i64>,
    now: i64,
) -> bool {
    if !acr_values.iter().any(|a| a == ACR_MFA) {
        return false;
    }
    match session_mfa_at {
        None => true,
        Some(at) => max_age.is_some_and(|m| now - at > m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use MfaPolicy::*;
    use SecondFactor::*;

    fn upstream(amr: &[&str], acr: Option<&str>, trust: bool) -> FirstFactor {
        FirstFactor::federated(
            amr.iter().map(|s| (*s).to_owned()).collect(),
            acr.map(str::to_owned),
            UpstreamTrust {
                trust_upstream_mfa: trust,
                mfa_acr_values: vec!["urn:corp:loa:2".into()],
                ..UpstreamTrust::default()
            },
        )
    }

    #[test]
    fn the_decision_table() {
        let pwd = FirstFactor::password();
        let cases = [
            // (policy, enrolled, first factor, expected)
            (Off, true, pwd.clone(), NotNeeded),
            (Off, false, pwd.clone(), NotNeeded),
            (Optional, false, pwd.clone(), NotNeeded),
            (Optional, true, pwd.clone(), AskTotp),
            (Required, true, pwd.clone(), AskTotp),
            (Required, false, pwd.clone(), Enrol),
            // 2FA through the SSO provider.
            (
                Required,
                false,
                upstream(&["pwd", "otp"], None, true),
                MetUpstream,
            ),
            (
                Required,
                true,
                upstream(&["pwd", "hwk"], None, true),
                MetUpstream,
            ),
            (
                Required,
                false,
                upstream(&["pwd"], Some("urn:corp:loa:2"), true),
                MetUpstream,
            ),
            (Required, false, upstream(&["pwd"], None, true), Enrol),
            (Optional, true, upstream(&["pwd"], None, true), AskTotp),
            (Optional, false, upstream(&["pwd"], None, true), NotNeeded),
            // "Always ask for our TOTP": upstream MFA claims are ignored.
            (
                Required,
                true,
                upstream(&["pwd", "mfa"], None, false),
                AskTotp,
            ),
            (
                Required,
                false,
                upstream(&["mfa"], Some("urn:corp:loa:2"), false),
                Enrol,
            ),
        ];
        for (i, (policy, enrolled, first, want)) in cases.into_iter().enumerate() {
            assert_eq!(
                requires_second_factor(policy, enrolled, &first),
                want,
                "case {i}"
            );
        }
    }

    #[test]
    fn group_overrides_replace_the_subscription_policy_and_the_strictest_wins() {
        assert_eq!(effective_policy(Optional, &[]), Optional);
        assert_eq!(effective_policy(Optional, &[Required]), Required);
        assert_eq!(effective_policy(Required, &[Off]), Off);
        assert_eq!(effective_policy(Off, &[Off, Required, Optional]), Required);
    }

    #[test]
    fn amr_and_acr_say_what_happened() {
        let pwd = FirstFactor::password();
        assert_eq!(session_amr(&pwd, false), ["pwd"]);
        assert_eq!(session_acr(&pwd, false), ACR_SINGLE);
        assert_eq!(session_amr(&pwd, true), ["pwd", "otp"]);
        assert_eq!(session_acr(&pwd, true), ACR_MFA);
        let fed = upstream(&["pwd", "otp"], None, true);
        assert_eq!(session_amr(&fed, false), ["fed", "pwd", "otp"]);
        assert_eq!(session_acr(&fed, false), ACR_MFA);
        let untrusted = upstream(&["pwd", "otp"], None, false);
        assert_eq!(session_acr(&untrusted, false), ACR_SINGLE);
        assert_eq!(session_amr(&untrusted, true), ["fed", "pwd", "otp"]);
        assert_eq!(session_acr(&untrusted, true), ACR_MFA);
    }

    #[test]
    fn step_up_is_needed_only_when_asked_and_missing_or_stale() {
        let want = vec![ACR_MFA.to_owned()];
        assert!(!step_up_needed(&[], None, None, 100));
        assert!(!step_up_needed(&[ACR_SINGLE.into()], None, None, 100));
        assert!(step_up_needed(&want, None, None, 100));
        assert!(!step_up_needed(&want, Some(90), None, 100));
        assert!(!step_up_needed(&want, Some(90), Some(10), 100));
        assert!(step_up_needed(&want, Some(89), Some(10), 100));
    }

    #[test]
    fn policies_parse_from_their_wire_names() {
        for p in [Off, Optional, Required] {
            assert_eq!(MfaPolicy::parse(p.as_str()), Some(p));
        }
        assert_eq!(MfaPolicy::parse("Required"), None);
    }
}
