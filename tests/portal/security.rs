//! Links and sessions, CSRF, escaping under the CSP, and tenant isolation.

use std::time::Duration;

use hookspec::portal::{Portal, PortalError};
use reqwest::header::{CONTENT_SECURITY_POLICY, COOKIE, SET_COOKIE};
use reqwest::StatusCode;

use crate::support::{Server, KEY};

#[tokio::test]
async fn a_link_opens_a_session_for_its_tenant_only() {
    let server = Server::start().await;
    let link = server.portal.link("acme", Duration::from_secs(60)).unwrap();
    assert!(link.starts_with("/webhooks/portal/login?token="), "{link}");
    let response = server
        .client
        .get(format!("{}{link}", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["referrer-policy"], "no-referrer");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_owned();
    for attribute in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/webhooks/portal",
        "Max-Age=",
    ] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let max_age: u64 = cookie
        .split("Max-Age=")
        .nth(1)
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (58..=60).contains(&max_age),
        "the session ends with the link: {cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "switched off for this plain-HTTP test"
    );
    let token = link.split("token=").nth(1).unwrap();
    assert!(
        !cookie.contains(token),
        "the session is not the link's token"
    );
    let page = response.text().await.unwrap();
    assert!(
        page.contains(r#"http-equiv="refresh" content="0; url=/webhooks/portal""#),
        "moves on to a URL without the token: {page}"
    );

    // No session, an expired link, a tampered link, a forged session.
    let (status, page) = server.get("/webhooks/portal", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("Open this portal with the link"), "{page}");
    let short = server.portal.link("acme", Duration::from_secs(2)).unwrap();
    let short_session = server.get_cookie(&short).await;
    assert_eq!(
        server.get("/webhooks/portal", Some(&short_session)).await.0,
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (status, page) = server.get(&short, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(page.contains("This link has expired"), "{page}");
    let (status, page) = server.get("/webhooks/portal", Some(&short_session)).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the session expires with its link"
    );
    assert!(page.contains("This session has expired"), "{page}");
    let other_key = Portal::new([9u8; 32]).unwrap();
    let forged = other_key.link("acme", Duration::from_secs(60)).unwrap();
    let tampered = format!("{}x", &link);
    for bad in [forged.as_str(), tampered.as_str(), "/webhooks/portal/login"] {
        let (status, page) = server.get(bad, None).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{bad}");
        assert!(page.contains("This link is not valid"), "{page}");
    }
    let link_as_cookie = format!("hookspec_portal={token}");
    let (status, _) = server.get("/webhooks/portal", Some(&link_as_cookie)).await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a link's token is no session"
    );
}

#[tokio::test]
async fn links_with_bad_settings_are_errors() {
    assert_eq!(
        Portal::new(b"short").unwrap_err(),
        PortalError::KeyTooShort(5)
    );
    let portal = Portal::new(KEY).unwrap();
    for ttl in [Duration::ZERO, Duration::from_secs(25 * 3600)] {
        assert_eq!(portal.link("acme", ttl), Err(PortalError::BadTtl(ttl)));
    }
    let error = portal.link("", Duration::from_secs(60)).unwrap_err();
    assert!(error.to_string().contains("is empty"), "{error}");
    // `;` would add attributes to the session cookie's `Path`; a control character would
    // make the cookie header invalid, so that no session could start.
    for path in [
        "portal",
        "/portal/",
        "/a b",
        "/{id}",
        "/a?b",
        "/x;Domain=evil.example",
        "/a\u{0}b",
    ] {
        assert!(
            matches!(
                Portal::new(KEY).unwrap().at(path),
                Err(PortalError::BadPath(_))
            ),
            "{path}"
        );
    }
    assert!(Portal::new(KEY).unwrap().public_url("ftp://x").is_err());
    let portal = Portal::new(KEY)
        .unwrap()
        .at("/support/hooks")
        .unwrap()
        .public_url("https://api.example.com/")
        .unwrap();
    let link = portal.link("acme", Duration::from_secs(60)).unwrap();
    assert!(
        link.starts_with("https://api.example.com/support/hooks/login?token="),
        "{link}"
    );
    assert!(
        !format!("{portal:?}").contains("thirty-two"),
        "the key is not in Debug"
    );
}

#[tokio::test]
async fn pages_escape_what_customers_typed_under_a_csp_without_scripts() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let xss = "<script>alert(1)</script>";
    let (id, _) = acme.add("http://127.0.0.1:9/hooks", xss).await;
    for path in [
        "/webhooks/portal".to_owned(),
        format!("/webhooks/portal/endpoints/{id}"),
    ] {
        let response = server
            .client
            .get(format!("{}{path}", server.base))
            .header(COOKIE, &acme.cookie)
            .send()
            .await
            .unwrap();
        let csp = response.headers()[CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert!(
            !csp.contains("script-src"),
            "no script source at all: {csp}"
        );
        let page = response.text().await.unwrap();
        assert!(
            page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{page}"
        );
        assert!(!page.contains(xss), "{page}");
        assert!(
            !page.contains("<script"),
            "the portal has no script: {page}"
        );
    }
    let (status, css) = server.get("/webhooks/portal/assets/portal.css", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("body"));
}

#[tokio::test]
async fn a_post_without_the_sessions_csrf_token_changes_nothing() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let globex = server.sign_in("globex").await;
    let fields = [("url", "http://127.0.0.1:9/hooks")];
    let (id, _) = acme.add("http://127.0.0.1:9/other", "").await;
    let with_globex_token = [
        ("url", "http://127.0.0.1:9/hooks"),
        ("csrf", globex.csrf.as_str()),
    ];
    let wrong = [("url", "http://127.0.0.1:9/hooks"), ("csrf", "AAAA")];
    for attempt in [&fields[..], &wrong[..], &with_globex_token[..]] {
        let response = acme.post_raw("/webhooks/portal/endpoints", attempt).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert!(response.text().await.unwrap().contains("CSRF token"));
        let disable = format!("/webhooks/portal/endpoints/{id}/disable");
        assert_eq!(
            acme.post_raw(&disable, attempt).await.status(),
            StatusCode::FORBIDDEN
        );
    }
    let listed = server
        .outbox
        .tenant("acme")
        .subscriptions(None, 10)
        .await
        .unwrap();
    assert_eq!(listed.len(), 1, "nothing was created");
    assert!(listed[0].enabled, "nothing was disabled");
    // A GET changes nothing either: actions are POST only.
    let (status, _) = acme
        .get(&format!("/webhooks/portal/endpoints/{id}/disable"))
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn a_tenant_sees_and_touches_only_its_own_endpoints() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let globex = server.sign_in("globex").await;
    let (acme_id, _) = acme.add("http://127.0.0.1:9/acme-only", "acme's").await;
    let (_, page) = globex.get("/webhooks/portal").await;
    assert!(
        !page.contains("acme-only") && !page.contains(&acme_id),
        "{page}"
    );
    let (status, page) = globex
        .get(&format!("/webhooks/portal/endpoints/{acme_id}"))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(!page.contains("acme-only"), "{page}");
    for action in ["disable", "delete", "rotate", "test"] {
        let path = format!("/webhooks/portal/endpoints/{acme_id}/{action}");
        assert_eq!(
            globex.post(&path, &[]).await.status(),
            StatusCode::FORBIDDEN,
            "{action}"
        );
    }
    let edit = format!("/webhooks/portal/endpoints/{acme_id}");
    let response = globex
        .post(&edit, &[("url", "http://127.0.0.1:9/stolen")])
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let kept = server
        .outbox
        .tenant("acme")
        .subscription(&acme_id)
        .await
        .unwrap();
    assert_eq!(kept.url, "http://127.0.0.1:9/acme-only");
    assert!(kept.enabled);
}

#[tokio::test]
async fn the_session_cookie_is_secure_by_default() {
    let dir = std::env::temp_dir().join(format!("hookspec-portal-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let outbox =
        hookspec::delivery::Outbox::sqlite(&format!("sqlite://{}", dir.join("o.db").display()))
            .await
            .unwrap();
    let portal = Portal::new(KEY).unwrap().at("/support/hooks").unwrap();
    let bound = hookspec::App::new("Payments", "1.0.0")
        .webhook_portal(outbox, portal.clone())
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let base = format!("http://{}", bound.local_addr().unwrap());
    tokio::spawn(bound.run_until(std::future::pending()));
    let link = portal.link("acme", Duration::from_secs(60)).unwrap();
    let response = reqwest::get(format!("{base}{link}")).await.unwrap();
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(cookie.ends_with("; Secure"), "{cookie}");
    assert!(cookie.contains("Path=/support/hooks;"), "{cookie}");
}

#[tokio::test]
async fn signing_out_removes_the_cookie_and_needs_the_csrf_token() {
    let server = Server::start().await;
    let acme = server.sign_in("acme").await;
    let forged = acme.post_raw("/webhooks/portal/logout", &[]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert!(forged.headers().get(SET_COOKIE).is_none());
    let response = acme.post("/webhooks/portal/logout", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap();
    assert!(
        cookie.starts_with("hookspec_portal=;") && cookie.contains("Max-Age=0"),
        "{cookie}"
    );
}
