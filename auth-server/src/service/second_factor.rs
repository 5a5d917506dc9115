//! The login's second step: after the first factor (password today, an upstream SSO
//! login from the federation side), [`after_first_factor`] asks the pure decision
//! ([`crate::mfa::requires_second_factor`]) and either creates the session or opens a
//! step on the authorization transaction: the TOTP form, or forced enrolment when the
//! policy requires 2FA. The step must be finished within five minutes of the first
//! factor, otherwise the login restarts. A client's step-up (`acr_values=2fa`, or a
//! required policy on a session without a second factor) opens the same step on an
//! existing session ([`start_step_up`]) and adds the factor to that session.

use super::login::{self, AuthzTx, Session, SessionFacts, TX_TTL};
use super::mfa::{self, Method, MfaError};
use super::oauth::authorize::{self, AuthzRequest, Next};
use super::{Actor, Ctx, FlowError};
use crate::domain::{Subscription, User};
use crate::mfa::{
    ACR_MFA, FirstFactor, MfaPolicy, SecondFactor, requires_second_factor, session_acr,
};
use serde::{Deserialize, Serialize};

/// A second-factor step open on an authorization transaction.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    /// The user who passed the first factor.
    pub user_id: String,
    /// How they passed it.
    pub first: FirstFactor,
    /// When (the step must end within five minutes of it).
    pub first_at: i64,
    /// What is asked now.
    pub step: Step,
    /// A step-up of an existing session (the factor is added to it) rather than a login.
    pub step_up: bool,
}

/// What the second-factor page asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// A TOTP or recovery code.
    Totp,
    /// Forced enrolment (policy `required`, no TOTP yet).
    Enrol,
    /// The factor was given; a confirmation page (recovery codes) waits for "continue".
    Done,
}

/// The result of the first factor.
#[derive(Debug)]
pub enum AfterFirstFactor {
    /// Signed in: set this session cookie and go on.
    Session {
        /// New session cookie value.
        cookie: String,
        /// Where the browser goes.
        next: Next,
    },
    /// Go to the second-factor page of this transaction.
    SecondStep(String),
}

/// Why a step cannot be shown or submitted.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// Unknown transaction, or one without an open step.
    #[error("This sign-in has expired. Go back to the application and start again.")]
    Gone,
    /// Older than five minutes: the login restarts at this new transaction.
    #[error("Your sign-in took too long; enter your password again.")]
    Restart(String),
    /// Store or cache failure.
    #[error(transparent)]
    Flow(#[from] FlowError),
}

/// What a submitted step leads to.
#[derive(Debug)]
pub enum StepOutcome {
    /// Finished: set the new session cookie (none for a step-up) and go to `next`.
    Done {
        /// New session cookie, when a session was created.
        cookie: Option<String>,
        /// Where the browser goes.
        next: Next,
    },
    /// Enrolment confirmed: show these recovery codes once, then "continue".
    RecoveryCodes(Vec<String>),
    /// Signed in with a recovery code: show how many are left, then "continue".
    RecoveryUsed(u64),
    /// Refused: show the form again with this message.
    Refused(MfaError),
}

/// Decide after a successful first factor. `tx` is the live transaction `tx_id`;
/// `standing` is the user's 2FA standing when the sign-in already read it.
/// The federation callback calls this with [`FirstFactor::federated`].
#[allow(clippy::too_many_arguments)]
pub async fn after_first_factor(
    ctx: &Ctx,
    sub: &Subscription,
    issuer: &str,
    tx_id: &str,
    mut tx: AuthzTx,
    user: &User,
    first: FirstFactor,
    standing: Option<mfa::Standing>,
) -> Result<AfterFirstFactor, FlowError> {
    let mfa::Standing { policy, enrolled } = match standing {
        Some(s) => s,
        None => mfa::standing(ctx, sub, &user.id).await?,
    };
    // The handler set the device on this copy; the stored transaction has none yet.
    let device = tx.device.clone();
    let step = match requires_second_factor(policy, enrolled, &first) {
        SecondFactor::NotNeeded | SecondFactor::MetUpstream => {
            let tx = login::take_tx(ctx, sub, tx_id)
                .await?
                .ok_or(FlowError::InvalidRequest(
                    "this sign-in has expired; start again from the application".into(),
                ))?;
            let (cookie, next) = new_session(
                ctx, sub, issuer, tx.request, device, &user.id, &first, false,
            )
            .await?;
            return Ok(AfterFirstFactor::Session { cookie, next });
        }
        SecondFactor::AskTotp => Step::Totp,
        SecondFactor::Enrol => Step::Enrol,
    };
    let now = ctx.now();
    tx.created_at = now;
    tx.pending = Some(Pending {
        user_id: user.id.clone(),
        first,
        first_at: now,
        step,
        step_up: false,
    });
    login::save_tx(ctx, sub, tx_id, &tx).await?;
    Ok(AfterFirstFactor::SecondStep(tx_id.to_owned()))
}

#[allow(clippy::too_many_arguments)]
async fn new_session(
    ctx: &Ctx,
    sub: &Subscription,
    issuer: &str,
    request: AuthzRequest,
    device: login::Device,
    user_id: &str,
    first: &FirstFactor,
    local_otp: bool,
) -> Result<(String, Next), FlowError> {
    let facts = SessionFacts {
        amr: crate::mfa::policy::session_amr(first, local_otp),
        acr: Some(session_acr(first, local_otp).to_owned()),
        mfa_at: (local_otp || first.upstream_mfa()).then_some(ctx.now()),
        device,
    };
    let (cookie, session) = login::create_session_with(ctx, sub, user_id, facts).await?;
    // Through `lookup` so that metadata-document clients resolve too.
    let client = super::clients::lookup(ctx, &sub.id, &request.client_id)
        .await?
        .ok_or(FlowError::InvalidRequest(
            "this application is no longer known".into(),
        ))?;
    let next = authorize::decide(ctx, sub, &client, issuer, request, Some(session), true).await?;
    Ok((cookie, next))
}

/// Open a step on an existing session when this request needs a second factor the
/// session lacks. `None`: the user cannot give one (policy `off`, or optional and not
/// enrolled), and the request goes on with the session's real `acr`.
pub async fn start_step_up(
    ctx: &Ctx,
    sub: &Subscription,
    request: AuthzRequest,
    session: &Session,
) -> Result<Option<String>, FlowError> {
    let mfa::Standing { policy, enrolled } = mfa::standing(ctx, sub, &session.user_id).await?;
    let step = match (policy, enrolled) {
        (MfaPolicy::Off, _) => return Ok(None),
        (_, true) => Step::Totp,
        (MfaPolicy::Required, false) => Step::Enrol,
        (MfaPolicy::Optional, false) => return Ok(None),
    };
    let (id, mut tx) = login::start_tx(ctx, sub, request).await?;
    tx.pending = Some(Pending {
        user_id: session.user_id.clone(),
        first: FirstFactor {
            amr: session.amr.clone(),
            acr: session.acr.clone(),
            upstream: None,
        },
        first_at: ctx.now(),
        step,
        step_up: true,
    });
    login::save_tx(ctx, sub, &id, &tx).await?;
    Ok(Some(id))
}

/// Whether the policy demands a second factor from a session that has none.
pub async fn session_lacks_required(
    ctx: &Ctx,
    sub: &Subscription,
    session: &Session,
) -> Result<bool, FlowError> {
    Ok(session.mfa_at.is_none()
        && mfa::standing(ctx, sub, &session.user_id).await?.policy == MfaPolicy::Required)
}

/// The open step of transaction `tx_id`; an expired one restarts the login with the
/// same authorization request.
pub async fn open_step(
    ctx: &Ctx,
    sub: &Subscription,
    tx_id: &str,
) -> Result<(AuthzTx, Pending), StepError> {
    let Some(tx) = login::load_tx_any(ctx, sub, tx_id).await? else {
        return Err(StepError::Gone);
    };
    let Some(pending) = tx.pending.clone() else {
        return Err(StepError::Gone);
    };
    if ctx.now() - pending.first_at > TX_TTL {
        login::take_tx(ctx, sub, tx_id).await?;
        let (id, _) = login::start_tx(ctx, sub, tx.request).await?;
        return Err(StepError::Restart(id));
    }
    Ok((tx, pending))
}

/// Submit the step's form: `code` for the TOTP and enrolment steps, "continue" after
/// recovery codes were shown. `cookie` is the browser's session (for step-ups).
#[allow(clippy::too_many_arguments)]
pub async fn submit(
    ctx: &Ctx,
    sub: &Subscription,
    issuer: &str,
    tx_id: &str,
    mut tx: AuthzTx,
    mut pending: Pending,
    code: &str,
    actor: &Actor,
    cookie: Option<&str>,
) -> Result<StepOutcome, FlowError> {
    let user = match ctx
        .db(&sub.id)
        .await?
        .repos()
        .users()
        .get(&sub.id, &pending.user_id)
        .await
    {
        Ok(u) if !u.disabled => u,
        Ok(_) | Err(crate::store::StoreError::NotFound) => {
            login::take_tx(ctx, sub, tx_id).await?;
            return Err(FlowError::InvalidRequest(
                "this account cannot sign in".into(),
            ));
        }
        Err(e) => return Err(e.into()),
    };
    let refused = |e: MfaError| match e {
        MfaError::Flow(f) => Err(f),
        other => Ok(StepOutcome::Refused(other)),
    };
    match pending.step {
        Step::Totp => match mfa::verify(ctx, sub, &user, code, actor).await {
            Ok(Method::Totp) => {}
            Ok(Method::Recovery(left)) => {
                pending.step = Step::Done;
                tx.pending = Some(pending);
                login::save_tx(ctx, sub, tx_id, &tx).await?;
                return Ok(StepOutcome::RecoveryUsed(left));
            }
            Err(e) => return refused(e),
        },
        Step::Enrol => {
            return match mfa::confirm_enrolment(ctx, sub, &user, code, actor).await {
                Ok(codes) => {
                    pending.step = Step::Done;
                    tx.pending = Some(pending);
                    login::save_tx(ctx, sub, tx_id, &tx).await?;
                    Ok(StepOutcome::RecoveryCodes(codes))
                }
                Err(e) => refused(e),
            };
        }
        Step::Done => {}
    }
    let tx = login::take_tx(ctx, sub, tx_id)
        .await?
        .ok_or(FlowError::InvalidRequest(
            "this sign-in was already completed".into(),
        ))?;
    if !pending.step_up {
        let (cookie, next) = new_session(
            ctx,
            sub,
            issuer,
            tx.request,
            tx.device,
            &user.id,
            &pending.first,
            true,
        )
        .await?;
        return Ok(StepOutcome::Done {
            cookie: Some(cookie),
            next,
        });
    }
    // Step-up: the factor joins the browser's session, which must still be this user's.
    let mut session = match cookie {
        Some(c) => login::session(ctx, sub, c).await?,
        None => None,
    }
    .filter(|s| s.user_id == user.id)
    .ok_or(FlowError::InvalidRequest(
        "your session ended; start again from the application".into(),
    ))?;
    let now = ctx.now();
    if !session.amr.iter().any(|a| a == "otp") {
        session.amr.push("otp".into());
    }
    session.acr = Some(ACR_MFA.to_owned());
    session.mfa_at = Some(now);
    session.auth_time = now;
    if let Some(c) = cookie {
        login::put_session(ctx, sub, c, &session).await?;
    }
    // Through `lookup` so that metadata-document clients resolve too.
    let client = super::clients::lookup(ctx, &sub.id, &tx.request.client_id)
        .await?
        .ok_or(FlowError::InvalidRequest(
            "this application is no longer known".into(),
        ))?;
    let next =
        authorize::decide(ctx, sub, &client, issuer, tx.request, Some(session), true).await?;
    Ok(StepOutcome::Done { cookie: None, next })
}
