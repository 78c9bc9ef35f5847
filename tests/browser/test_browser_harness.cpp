// The WebDriver harness (webdriver.hpp) proven on pages this test serves itself from 127.0.0.1:
// navigation, waiting for a late text, the console log (and a CSP violation in it), scripts with
// arguments, window size and a screenshot. Skips when chromium or chromedriver is missing.
#include "browser/webdriver.hpp"
#include "cli/cli_util.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <map>
#include <mutex>

namespace {

namespace fs = std::filesystem;
namespace wd = nubefact::test::browser;
using namespace std::chrono_literals;

// A tiny HTTP/1.1 server on 127.0.0.1:0 in a thread of its own: fixed pages by path, every answer
// with the same Content-Security-Policy, one request per connection. Connections that send nothing
// (a browser's speculative ones) never hold up the others: one poll() loop serves them all.
class page_server {
  public:
    struct page {
        std::string content_type, body;
    };

    page_server(std::map<std::string, page> pages, std::string csp)
        : pages_(std::move(pages)), csp_(std::move(csp)) {
        listen_ = ::socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        ::setsockopt(listen_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof addr;
        if (::bind(listen_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
            ::listen(listen_, 16) != 0 ||
            ::getsockname(listen_, reinterpret_cast<sockaddr*>(&addr), &len) != 0)
            return;
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~page_server() {
        stop_ = true;
        if (thread_.joinable()) thread_.join();
        if (listen_ >= 0) ::close(listen_);
    }
    page_server(const page_server&) = delete;
    page_server& operator=(const page_server&) = delete;

    int port() const { return port_; }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port_) + path;
    }
    // The paths asked for, in order.
    std::vector<std::string> requests() const {
        std::lock_guard lock(mutex_);
        return requests_;
    }

  private:
    void serve() {
        std::map<int, std::string> clients;  // fd -> what it sent so far
        while (!stop_) {
            std::vector<pollfd> fds{{listen_, POLLIN, 0}};
            for (const auto& [fd, _] : clients) fds.push_back({fd, POLLIN, 0});
            if (::poll(fds.data(), fds.size(), 50) <= 0) continue;
            if (fds[0].revents & POLLIN) {
                const int c = ::accept(listen_, nullptr, nullptr);
                if (c >= 0) clients[c];
            }
            for (std::size_t i = 1; i < fds.size(); ++i) {
                if (!fds[i].revents) continue;
                const int fd = fds[i].fd;
                char buf[4096];
                const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
                if (n > 0) clients[fd].append(buf, static_cast<std::size_t>(n));
                const bool whole = clients[fd].find("\r\n\r\n") != std::string::npos;
                if (whole) answer(fd, clients[fd]);
                if (whole || n <= 0 || clients[fd].size() > 65536) {
                    ::close(fd);
                    clients.erase(fd);
                }
            }
        }
        for (const auto& [fd, _] : clients) ::close(fd);
    }

    void answer(int fd, const std::string& request) {
        // "GET /path?query HTTP/1.1"
        const auto sp1 = request.find(' '), sp2 = request.find(' ', sp1 + 1);
        std::string path = request.substr(sp1 + 1, sp2 - sp1 - 1);
        path = path.substr(0, path.find('?'));
        {
            std::lock_guard lock(mutex_);
            requests_.push_back(path);
        }
        std::string status = "200 OK", type = "text/plain; charset=utf-8", body;
        if (auto it = pages_.find(path); it != pages_.end()) {
            type = it->second.content_type;
            body = it->second.body;
        } else if (path == "/favicon.ico") {
            status = "204 No Content";  // no icon, and no 404 in the console for it
        } else {
            status = "404 Not Found";
            body = "not found\n";
        }
        std::string resp = "HTTP/1.1 " + status + "\r\nContent-Type: " + type +
                           "\r\nContent-Security-Policy: " + csp_ + "\r\nCache-Control: no-store\r\n" +
                           "Content-Length: " + std::to_string(body.size()) +
                           "\r\nConnection: close\r\n\r\n" + body;
        for (std::size_t sent = 0; sent < resp.size();) {
            const ssize_t n = ::send(fd, resp.data() + sent, resp.size() - sent, MSG_NOSIGNAL);
            if (n <= 0) break;
            sent += static_cast<std::size_t>(n);
        }
    }

    std::map<std::string, page> pages_;
    std::string csp_;
    int listen_ = -1, port_ = 0;
    std::atomic<bool> stop_{false};
    std::thread thread_;
    mutable std::mutex mutex_;
    std::vector<std::string> requests_;
};

const char* const index_html = R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>harness</title><script src="/app.js" defer></script></head>
<body><h1>Harness page</h1><p id="late"></p></body>
</html>
)";

// An external script: allowed by default-src 'self'.
const char* const app_js = R"(console.log("harness: the script ran");
setTimeout(function () { document.getElementById("late").textContent = "written after 200 ms"; }, 200);
)";

// An inline script: blocked by default-src 'self', which Chromium reports in the console.
const char* const inline_html = R"(<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>inline</title></head>
<body><h1>Inline script</h1><script>document.title = "the inline script ran";</script></body>
</html>
)";

std::string dump(const std::vector<wd::console_entry>& log) {
    std::string s;
    for (const auto& e : log) s += "  [" + e.level + " " + e.source + "] " + e.message + "\n";
    return s.empty() ? "  (empty)\n" : s;
}

class BrowserHarness : public ::testing::Test {
  protected:
    void SetUp() override {
        if (auto why = wd::webdriver::unavailable()) GTEST_SKIP() << *why;
        scratch_ = nubefact::test::cli::fresh_scratch_dir("browser");
        server_ = std::make_unique<page_server>(
            std::map<std::string, page_server::page>{{"/", {"text/html; charset=utf-8", index_html}},
                                                     {"/app.js", {"text/javascript; charset=utf-8", app_js}},
                                                     {"/inline", {"text/html; charset=utf-8", inline_html}}},
            "default-src 'self'");
        ASSERT_GT(server_->port(), 0);
    }
    void TearDown() override {
        server_.reset();
        nubefact::test::cli::remove_scratch_dir(scratch_);
    }

    // The console entries that arrive within `limit` until one satisfies `pred` (all of them).
    template <class Pred>
    static std::vector<wd::console_entry> console_until(wd::webdriver& b, Pred pred,
                                                        std::chrono::milliseconds limit) {
        std::vector<wd::console_entry> all;
        const auto end = std::chrono::steady_clock::now() + limit;
        for (;;) {
            for (auto& e : b.console_log()) all.push_back(std::move(e));
            for (const auto& e : all)
                if (pred(e)) return all;
            if (std::chrono::steady_clock::now() >= end) return all;
            std::this_thread::sleep_for(50ms);
        }
    }

    fs::path scratch_;
    std::unique_ptr<page_server> server_;
};

TEST_F(BrowserHarness, loads_a_page_waits_for_late_text_and_reads_the_console) {
    wd::webdriver browser(scratch_);
    ASSERT_FALSE(browser.session_id().empty());
    browser.navigate(server_->url("/"));
    EXPECT_EQ(browser.current_url(), server_->url("/"));
    EXPECT_EQ(browser.text("h1"), "Harness page");
    EXPECT_EQ(browser.text("#no-such-element"), std::nullopt);

    const auto w =
        browser.wait_until("document.getElementById('late').textContent === 'written after 200 ms'", 10s);
    ASSERT_TRUE(w) << w.why;
    EXPECT_EQ(browser.text("#late"), "written after 200 ms");
    // A condition that never holds: the wait ends by itself, and says so.
    const auto never = browser.wait_until("document.getElementById('missing').textContent === 'x'", 300ms);
    EXPECT_FALSE(never);
    EXPECT_NE(never.why.find("Cannot read properties of null"), std::string::npos) << never.why;

    const auto log = console_until(
        browser, [](const auto& e) { return e.message.find("harness: the script ran") != std::string::npos; },
        5s);
    int logged = 0;
    for (const auto& e : log) {
        if (e.message.find("harness: the script ran") != std::string::npos) {
            ++logged;
            EXPECT_EQ(e.level, "INFO");
            EXPECT_EQ(e.source, "console-api");
        }
        EXPECT_NE(e.level, "SEVERE") << e.message;
    }
    EXPECT_EQ(logged, 1) << dump(log);
    EXPECT_TRUE(browser.console_log().empty());  // each entry is handed out once

    EXPECT_EQ(browser.execute("return arguments[0] + arguments[1];", {2, 3}), boost::json::value(5));
    EXPECT_EQ(browser.execute("return document.title;"), boost::json::value("harness"));
    EXPECT_EQ(browser.execute_async("const done = arguments[arguments.length - 1];"
                                    "setTimeout(() => done(arguments[0] + ' later'), 50);",
                                    {"answered"}),
              boost::json::value("answered later"));
    EXPECT_THROW(browser.execute("throw new Error('on purpose');"), wd::webdriver_error);

    browser.set_window_size(800, 600);
    EXPECT_EQ(browser.execute("return [window.outerWidth, window.outerHeight];"),
              boost::json::value(boost::json::array{800, 600}));

    const auto png = browser.screenshot("BrowserHarness.loads_a_page.png");
    std::cout << "screenshot: " << png.string() << "\n";
    const std::string bytes = nubefact::test::cli::slurp(png);
    ASSERT_GE(bytes.size(), 8u);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(BrowserHarness, reports_a_csp_violation_in_the_console) {
    wd::webdriver browser(scratch_);
    browser.navigate(server_->url("/inline"));
    EXPECT_EQ(browser.text("h1"), "Inline script");
    auto is_csp = [](const wd::console_entry& e) {
        return e.message.find("Content Security Policy") != std::string::npos;
    };
    const auto log = console_until(browser, is_csp, 5s);
    bool reported = false;
    for (const auto& e : log)
        if (is_csp(e)) {
            reported = true;
            EXPECT_EQ(e.level, "SEVERE") << e.message;
            EXPECT_NE(e.message.find("inline script"), std::string::npos) << e.message;
        }
    EXPECT_TRUE(reported) << dump(log);
    // …and the script was blocked indeed.
    EXPECT_EQ(browser.execute("return document.title;"), boost::json::value("inline"));
}

}  // namespace
