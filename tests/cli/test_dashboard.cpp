// The dashboard of the real `nubefact serve` in a real headless Chromium (WebDriver, Debian's
// chromium-driver): sign in, the counts equal the API's, a document's page shows its timeline, a
// document sent during the test turns accepted on screen over the event stream, and no console
// error or CSP violation. A screenshot is saved as a test artifact.
#include "browser/webdriver.hpp"
#include "serve_fixture.hpp"

#include <gtest/gtest.h>

#include <iostream>

namespace {

namespace wd = nubefact::test::browser;

class Dashboard : public ServeCli {
  protected:
    http_reply native(const std::string& method, const std::string& path, const std::string& body = "",
                      const std::string& extra = "") {
        std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" +
                          "Authorization: Bearer " + acme_.token + "\r\n" + extra;
        if (method == "POST")
            req +=
                "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
        return http_raw(port_, req + "\r\n" + body, 30);
    }
    // The text the page shows for `selector`, trimmed; "" when it is not there.
    static std::string shown(wd::webdriver& b, const std::string& selector) {
        auto t = b.text(selector);
        return t ? *t : std::string();
    }
};

TEST_F(Dashboard, CountsTimelineAndALiveAcceptanceInARealBrowser) {
    if (auto why = wd::webdriver::unavailable()) GTEST_SKIP() << *why;
    start_upstream();
    start_serve();
    for (int n = 1; n <= 3; ++n)
        ASSERT_EQ(native("POST", "/v1/accounts/acme/documents", factura(n), "Prefer: wait=10\r\n").status,
                  200);
    ASSERT_EQ(native("POST", "/v1/accounts/acme/documents", factura(1, "F002"), "Prefer: wait=10\r\n").status,
              200);

    wd::webdriver browser(dir_ / "browser");
    browser.set_window_size(1280, 1000);
    const std::string base = "http://127.0.0.1:" + std::to_string(port_);
    browser.navigate(base + "/dashboard/");
    ASSERT_TRUE(browser.wait_until("!document.querySelector('#sign-in').hidden", std::chrono::seconds(10)));
    browser.execute(
        "document.querySelector('#in-account').value = arguments[0];"
        "document.querySelector('#in-token').value = arguments[1];"
        "document.querySelector('#sign-in-form').requestSubmit();",
        {json::value("acme"), json::value(acme_.token)});
    auto w = browser.wait_until(
        "document.querySelectorAll('#documents tbody tr').length === 4 && "
        "document.querySelector('#live').textContent === 'live'",
        std::chrono::seconds(10));
    ASSERT_TRUE(w) << w.why;

    // The counts on the page are the API's.
    const auto summary = native("GET", "/v1/accounts/acme/summary").json();
    for (const auto& s : summary.at("states").as_array()) {
        const std::string state(s.at("state").as_string());
        EXPECT_EQ(shown(browser, "[data-state-count='" + state + "'] .n"),
                  std::to_string(s.at("documents").to_number<int>()))
            << state;
    }
    EXPECT_EQ(shown(browser, "[data-state-count='rejected'] .n"), "0");

    // A document's page: its fields and its timeline.
    browser.execute("document.querySelector(\"#documents tr[data-id='1-F001-2']\").click();");
    w = browser.wait_until(
        "!document.querySelector('#document').hidden && "
        "document.querySelectorAll('#timeline tbody tr[data-outcome]').length >= 1",
        std::chrono::seconds(10));
    ASSERT_TRUE(w) << w.why;
    EXPECT_EQ(shown(browser, "#document-state .state"), "accepted");
    EXPECT_NE(shown(browser, "[data-field='cadena_para_codigo_qr']"), "");
    EXPECT_EQ(shown(browser, "#timeline tbody tr td:nth-child(2)"), "generar_comprobante");
    // Its action asks to be confirmed: one click arms it and sends nothing, the second consults.
    browser.execute("document.querySelector('#document-refresh').click();");
    EXPECT_EQ(shown(browser, "#document-refresh"), "Confirm: consult Nubefact now");
    EXPECT_EQ(emulator_->requests("consultar_comprobante"), 0);
    browser.execute("document.querySelector('#document-refresh').click();");
    w = browser.wait_until("document.querySelectorAll('#timeline tbody tr[data-outcome]').length === 2",
                           std::chrono::seconds(10));
    EXPECT_TRUE(w) << w.why;
    EXPECT_EQ(emulator_->requests("consultar_comprobante"), 1);

    // Sent during the test: sending on screen while Nubefact's answer waits, accepted once it comes,
    // without a reload (the event stream).
    browser.execute("window.__marker = 'same page';");
    ASSERT_TRUE(emulator_->hold(0));
    ASSERT_EQ(native("POST", "/v1/accounts/acme/documents", factura(9)).status, 202);
    w = browser.wait_until(
        "(document.querySelector(\"#documents tr[data-id='1-F001-9'] .state\") || {}).textContent "
        "=== 'sending'",
        std::chrono::seconds(5));
    EXPECT_TRUE(w) << w.why;
    ASSERT_TRUE(emulator_->wait_held(1));
    ASSERT_TRUE(emulator_->release());
    w = browser.wait_until(
        "(document.querySelector(\"#documents tr[data-id='1-F001-9'] .state\") || {}).textContent "
        "=== 'accepted'",
        std::chrono::seconds(5));
    EXPECT_TRUE(w) << w.why;
    EXPECT_EQ(browser.execute("return window.__marker || '';").as_string(), "same page");
    const auto after = native("GET", "/v1/accounts/acme/summary").json();
    for (const auto& s : after.at("states").as_array()) {
        const std::string state(s.at("state").as_string());
        const auto n = std::to_string(s.at("documents").to_number<int>());
        w = browser.wait_until(
            "document.querySelector(\"[data-state-count='" + state + "'] .n\").textContent === '" + n + "'",
            std::chrono::seconds(5));
        EXPECT_TRUE(w) << state << ": " << w.why;
    }

    const auto shot = browser.screenshot("dashboard.png");
    std::cout << "dashboard screenshot: " << shot.string() << "\n";
    // No console errors, no CSP violations.
    for (const auto& e : browser.console_log()) EXPECT_NE(e.level, "SEVERE") << e.message;
    expect_no_secrets_logged();
}

TEST_F(Dashboard, AWrongTokenIsSentBackToSignIn) {
    if (auto why = wd::webdriver::unavailable()) GTEST_SKIP() << *why;
    start_upstream();
    start_serve();
    wd::webdriver browser(dir_ / "browser");
    browser.navigate("http://127.0.0.1:" + std::to_string(port_) + "/dashboard/");
    ASSERT_TRUE(browser.wait_until("!document.querySelector('#sign-in').hidden", std::chrono::seconds(10)));
    browser.execute(
        "document.querySelector('#in-account').value = 'acme';"
        "document.querySelector('#in-token').value = 'nfk_live_wrong';"
        "document.querySelector('#sign-in-form').requestSubmit();");
    auto w = browser.wait_until("document.querySelector('#sign-in-error').textContent.includes('refused')",
                                std::chrono::seconds(10));
    EXPECT_TRUE(w) << w.why;
    EXPECT_TRUE(browser.execute("return document.querySelector('#board').hidden;").as_bool());
    // A failed fetch (401) is logged by Chromium as a network error; nothing else may be.
    for (const auto& e : browser.console_log())
        if (e.message.find("401") == std::string::npos) {
            EXPECT_NE(e.level, "SEVERE") << e.message;
        }
}

}  // namespace
