//! The client of the appointments API (the resource server in `api/`): the
//! `Appointment` type, one request helper that adds the Bearer header, and the mapping
//! of every answer to a typed result.

use serde::Serialize;

use crate::auth::{authorized_request, SendError};
use crate::browser::http::{self, Body};
use crate::json::{Object, Value};
use crate::oidc::challenge;
use crate::oidc::session::Session;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appointment {
    pub id: String,
    pub title: String,
    pub start: String,
    pub end: String,
    pub location: Option<String>,
}

/// What a successful answer holds, read from its JSON.
pub trait Answer: Sized {
    fn read(value: &Value) -> Option<Self>;
}

impl Answer for Appointment {
    /// Every field a string; `location` may be missing or null.
    fn read(value: &Value) -> Option<Self> {
        let fields = Object::of(value)?;
        let text = |name: &str| fields.required_string(name).ok();
        Some(Appointment {
            id: text("id")?,
            title: text("title")?,
            start: text("start")?,
            end: text("end")?,
            location: fields.string("location").ok()?,
        })
    }
}

impl Answer for Vec<Appointment> {
    fn read(value: &Value) -> Option<Self> {
        value.as_array()?.iter().map(Appointment::read).collect()
    }
}

/// The body of `POST /api/appointments`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewAppointment {
    pub title: String,
    pub start: String,
    pub end: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppointmentsError {
    /// 400: the API refused the appointment; names the field when it says which.
    Invalid {
        field: Option<String>,
        message: String,
    },
    /// 401: the token is no longer accepted; the user must sign in again.
    SessionInvalid { description: Option<String> },
    /// 403: the token lacks a scope; names it when the API says which.
    MissingScope { scope: Option<String> },
    /// No answer: the API is down, unreachable, or refused by CORS.
    Unreachable { url: String },
    /// A 2xx whose body is not a list of appointments.
    Malformed,
    /// Any other status.
    Unexpected { status: u16 },
}

/// `GET /api/appointments` with the session's access token (Bearer, or DPoP-bound).
pub async fn list(url: &str, session: &Session) -> Result<Vec<Appointment>, AppointmentsError> {
    answer(url, authorized_request(session, "GET", url, || None).await)
}

/// `POST /api/appointments`: the created appointment, or why not.
pub async fn create(
    url: &str,
    session: &Session,
    appointment: &NewAppointment,
) -> Result<Appointment, AppointmentsError> {
    let body = crate::json::to_string(appointment).map_err(|_| AppointmentsError::Malformed)?;
    let request = authorized_request(session, "POST", url, || Some(Body::Json(body.clone())));
    answer(url, request.await)
}

/// No answer at all is `Unreachable`; a session whose key is gone cannot be used any more;
/// any answer is interpreted.
fn answer<T: Answer>(
    url: &str,
    response: Result<http::Response, SendError>,
) -> Result<T, AppointmentsError> {
    let response = response.map_err(|error| match error {
        SendError::NoAnswer => AppointmentsError::Unreachable {
            url: url.to_string(),
        },
        SendError::Proof(why) => AppointmentsError::SessionInvalid {
            description: Some(why),
        },
    })?;
    interpret(
        response.status,
        response.www_authenticate.as_deref(),
        &response.body,
    )
}

/// A parameter of the API's challenge, Bearer or DPoP, whichever the request used.
fn challenge_param(header: &str, name: &str) -> Option<String> {
    challenge::param(header, "Bearer", name).or_else(|| challenge::param(header, "DPoP", name))
}

/// Maps the API's answer to the expected body or to the error the user must see
/// (RFC 6750 §3 for 401 and 403).
pub fn interpret<T: Answer>(
    status: u16,
    www_authenticate: Option<&str>,
    body: &str,
) -> Result<T, AppointmentsError> {
    match status {
        200 | 201 => crate::json::from_str::<Value>(body)
            .ok()
            .as_ref()
            .and_then(T::read)
            .ok_or(AppointmentsError::Malformed),
        400 => {
            let error = crate::json::from_str::<Value>(body).unwrap_or_default();
            // Each field on its own: a mistyped one is left out, not the whole refusal.
            let text = |name: &str| Object::of(&error)?.string(name).ok()?;
            Err(AppointmentsError::Invalid {
                field: text("field"),
                message: text("error_description")
                    .unwrap_or_else(|| "the API refused the request".into()),
            })
        }
        401 => Err(AppointmentsError::SessionInvalid {
            description: www_authenticate.and_then(|h| challenge_param(h, "error_description")),
        }),
        403 => Err(AppointmentsError::MissingScope {
            scope: www_authenticate.and_then(|h| challenge_param(h, "scope")),
        }),
        status => Err(AppointmentsError::Unexpected { status }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_of(
        status: u16,
        header: Option<&str>,
        body: &str,
    ) -> Result<Vec<Appointment>, AppointmentsError> {
        interpret(status, header, body)
    }

    #[test]
    fn reads_a_list_of_appointments() {
        let body = r#"[{"id":"1","title":"Dentist","start":"2030-01-01T09:00:00Z","end":"2030-01-01T09:30:00Z","location":null}]"#;
        let list = list_of(200, None, body).expect("valid");
        assert_eq!(list[0].title, "Dentist");
        assert_eq!(list[0].location, None);
        assert_eq!(list_of(200, None, "[]"), Ok(vec![]));
        let without_location = r#"[{"id":"1","title":"T","start":"s","end":"e"}]"#;
        assert_eq!(
            list_of(200, None, without_location).expect("valid")[0].location,
            None
        );
    }

    #[test]
    fn a_dpop_challenge_is_read_like_a_bearer_one() {
        assert_eq!(
            list_of(
                401,
                Some(
                    r#"DPoP algs="ES256", error="invalid_token", error_description="the token is bound to another key""#
                ),
                ""
            ),
            Err(AppointmentsError::SessionInvalid {
                description: Some("the token is bound to another key".into())
            })
        );
    }

    #[test]
    fn a_refusal_names_the_field_and_the_reason_when_the_api_gives_them() {
        let body = r#"{"error":"invalid_request","error_description":"end must be after start","field":"end"}"#;
        assert_eq!(
            list_of(400, None, body),
            Err(AppointmentsError::Invalid {
                field: Some("end".into()),
                message: "end must be after start".into()
            })
        );
        assert_eq!(
            list_of(400, None, "not json"),
            Err(AppointmentsError::Invalid {
                field: None,
                message: "the API refused the request".into()
            })
        );
    }

    #[test]
    fn a_list_with_a_field_missing_or_of_another_type_is_malformed() {
        for body in [
            r#"{"id":"1"}"#,
            r#"[{"id":"1","start":"s","end":"e"}]"#,
            r#"[{"id":1,"title":"T","start":"s","end":"e"}]"#,
            r#"[{"id":"1","title":"T","start":"s","end":"e","location":7}]"#,
            r#"[{"id":"1","title":"T","start":"s","end":"e"}, null]"#,
        ] {
            assert_eq!(
                list_of(200, None, body),
                Err(AppointmentsError::Malformed),
                "{body}"
            );
        }
    }

    #[test]
    fn maps_each_failure_to_its_own_error() {
        assert_eq!(
            list_of(
                401,
                Some(
                    r#"Bearer realm="appointments", error="invalid_token", error_description="the token has expired""#
                ),
                "{}"
            ),
            Err(AppointmentsError::SessionInvalid {
                description: Some("the token has expired".into())
            })
        );
        assert_eq!(
            list_of(
                403,
                Some(
                    r#"Bearer realm="appointments", error="insufficient_scope", scope="read:appointments""#
                ),
                ""
            ),
            Err(AppointmentsError::MissingScope {
                scope: Some("read:appointments".into())
            })
        );
        assert_eq!(
            list_of(403, None, ""),
            Err(AppointmentsError::MissingScope { scope: None })
        );
        assert_eq!(
            list_of(200, None, "<html>"),
            Err(AppointmentsError::Malformed)
        );
        assert_eq!(
            list_of(200, None, r#"{"items":[]}"#),
            Err(AppointmentsError::Malformed)
        );
        assert_eq!(
            list_of(500, None, ""),
            Err(AppointmentsError::Unexpected { status: 500 })
        );
    }
}
