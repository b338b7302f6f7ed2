//! The server side of SASL DIGEST-MD5 for the TestingServer's `sasl_user`s, as ZooKeeper's
//! `SaslServerCallbackHandler` with a JAAS `Server { DigestLoginModule user_NAME="pw" }`
//! section answers it: the challenge (realm `zk-sasl-md5`, qop `auth`, md5-sess), the check
//! of the client's response and the `rspauth` proof. A wrong password is answered with
//! `AuthFailed` and the connection closes (3.8's `processSasl`).
//!
//! Without `sasl_user`s the server answers every SASL token with an empty one, as a 3.8
//! server without a JAAS `Server` section does.

use crate::auth::sasl::{digest_uri, encode, new_nonce, parse, quote, response_value, user_hash};
use crate::auth::Secret;

/// One connection's DIGEST-MD5 exchange.
#[derive(Debug, Default)]
pub(crate) enum SaslServer {
    /// Nothing received yet.
    #[default]
    Start,
    /// The challenge went out with this nonce.
    Challenged(String),
    /// Authenticated (the user) or failed; later tokens are refused.
    Done,
}

/// What to answer a token with.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// Reply OK with this token; `Some(user)` once authenticated (add `sasl:user`).
    Token(Vec<u8>, Option<String>),
    /// Reply AuthFailed and close the connection; the reason for the log.
    Refuse(String),
}

impl SaslServer {
    /// Handles one client token against `users`. The challenge's nonce comes from the OS's
    /// CSPRNG; if it has none to give, the exchange is refused with that reason.
    pub(crate) fn step(&mut self, users: &[(String, Secret)], token: &[u8]) -> Answer {
        match std::mem::replace(self, SaslServer::Done) {
            SaslServer::Start => {
                let nonce = match new_nonce() {
                    Ok(n) => n,
                    Err(why) => return Answer::Refuse(why),
                };
                let challenge = format!(
                    "realm=\"zk-sasl-md5\",nonce={},qop=\"auth\",charset=utf-8,algorithm=md5-sess",
                    quote(&nonce)
                );
                *self = SaslServer::Challenged(nonce);
                Answer::Token(challenge.into_bytes(), None)
            }
            SaslServer::Challenged(nonce) => match check(users, token, &nonce) {
                Ok((user, rspauth)) => {
                    Answer::Token(format!("rspauth={rspauth}").into_bytes(), Some(user))
                }
                Err(why) => Answer::Refuse(why),
            },
            SaslServer::Done => Answer::Refuse("SASL exchange already complete".into()),
        }
    }
}

/// Checks a client's response; the user and the `rspauth` to send back, or why not.
fn check(
    users: &[(String, Secret)],
    token: &[u8],
    nonce: &str,
) -> Result<(String, String), String> {
    let text = std::str::from_utf8(token).map_err(|_| "response is not text".to_string())?;
    let fields = parse(text)?;
    let get = |key: &str| {
        fields
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    };
    let need = |key: &str| get(key).ok_or_else(|| format!("response has no {key}"));
    let user = need("username")?;
    if need("nonce")? != nonce {
        return Err("response answers another nonce".into());
    }
    if need("digest-uri")? != digest_uri() {
        return Err(format!("digest-uri is not {}", digest_uri()));
    }
    if !get("qop").unwrap_or("auth").eq_ignore_ascii_case("auth") {
        return Err("only qop auth is offered".into());
    }
    let (cnonce, nc, response) = (need("cnonce")?, need("nc")?, need("response")?);
    let utf8 = get("charset").is_some_and(|c| c.eq_ignore_ascii_case("utf-8"));
    let realm = get("realm").unwrap_or("");
    let Some((_, password)) = users.iter().find(|(u, _)| u == user) else {
        return Err(format!("no such user {user:?}"));
    };
    let enc = |s: &str| encode(s, utf8).ok_or_else(|| "text outside the charset".to_string());
    let pw = std::str::from_utf8(password.expose()).map_err(|_| "bad password".to_string())?;
    let secret = user_hash(&enc(user)?, &enc(realm)?, &enc(pw)?);
    if response_value(&secret, nonce, cnonce, nc, &digest_uri(), true) != response {
        return Err(format!("wrong password for {user:?}"));
    }
    let rspauth = response_value(&secret, nonce, cnonce, nc, &digest_uri(), false);
    Ok((user.to_string(), rspauth))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::sasl::DigestMd5;

    #[test]
    fn client_and_server_agree_and_a_wrong_password_is_refused() {
        let users = vec![("bob".to_string(), Secret::new(b"right".to_vec()))];
        for (pw, ok) in [("right", true), ("wrong", false)] {
            let mut server = SaslServer::default();
            let mut client = DigestMd5::new("bob", &Secret::new(pw.into()), "cn".into());
            let Answer::Token(challenge, None) = server.step(&users, b"") else {
                panic!("no challenge")
            };
            let resp = client.step(&challenge).unwrap().unwrap();
            match server.step(&users, &resp) {
                Answer::Token(fin, Some(user)) => {
                    assert!(ok);
                    assert_eq!(user, "bob");
                    assert_eq!(client.step(&fin), Ok(None));
                    assert!(client.is_complete());
                }
                Answer::Refuse(why) => {
                    assert!(!ok);
                    assert!(
                        why.contains("wrong password") && !why.contains("right"),
                        "{why}"
                    );
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
