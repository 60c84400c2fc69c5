//! The one error type of the model, with a stable code and a Dutch/English message.

use pbx_i18n::Msg;
use serde::{Deserialize, Serialize};

/// Stable error codes, shared by the control API (`error.code`) and the programs' exit codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// A value breaks a rule of the model (syntax, range).
    Invalid,
    /// An organisation limit would be crossed.
    LimitExceeded,
    /// The object exists already.
    Conflict,
    /// The object does not exist.
    NotFound,
    /// A password is too weak.
    WeakPassword,
    /// The object is still used; `--force` removes it with what depends on it.
    HasDependents,
    /// A reference points to nothing.
    DanglingReference,
    /// The caller may not do this.
    Forbidden,
    /// The request is not well-formed (JSON, size, method).
    BadRequest,
    /// The request is larger than the limit.
    TooLarge,
    /// No such endpoint.
    UnknownEndpoint,
    /// The configuration has errors.
    ConfigInvalid,
    /// The store could not be read or written.
    Store,
    /// A bug or an unexpected condition.
    Internal,
}

impl ErrorCode {
    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Invalid => "invalid",
            ErrorCode::LimitExceeded => "limit_exceeded",
            ErrorCode::Conflict => "conflict",
            ErrorCode::NotFound => "not_found",
            ErrorCode::WeakPassword => "weak_password",
            ErrorCode::HasDependents => "has_dependents",
            ErrorCode::DanglingReference => "dangling_reference",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::TooLarge => "too_large",
            ErrorCode::UnknownEndpoint => "unknown_endpoint",
            ErrorCode::ConfigInvalid => "config_invalid",
            ErrorCode::Store => "store",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status of the control API for this code.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorCode::Invalid
            | ErrorCode::WeakPassword
            | ErrorCode::DanglingReference
            | ErrorCode::BadRequest
            | ErrorCode::ConfigInvalid => 400,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound | ErrorCode::UnknownEndpoint => 404,
            ErrorCode::Conflict | ErrorCode::HasDependents => 409,
            ErrorCode::TooLarge => 413,
            ErrorCode::LimitExceeded => 422,
            ErrorCode::Store | ErrorCode::Internal => 500,
        }
    }
}

/// An error of the model: what is wrong and, where it helps, what to do about it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{msg}")]
pub struct ModelError {
    /// Stable code.
    pub code: ErrorCode,
    /// What is wrong.
    pub msg: Msg,
    /// What to do about it.
    pub hint: Option<Msg>,
}

impl ModelError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, msg: Msg) -> ModelError {
        ModelError {
            code,
            msg,
            hint: None,
        }
    }

    /// Shorthand for [`ErrorCode::Invalid`].
    pub fn invalid(msg: Msg) -> ModelError {
        ModelError::new(ErrorCode::Invalid, msg)
    }

    /// Adds a hint.
    #[must_use]
    pub fn hint(mut self, hint: Msg) -> ModelError {
        self.hint = Some(hint);
        self
    }
}
