// A minimal W3C WebDriver client for browser tests: starts Debian's `chromedriver` (package
// chromium-driver) on a free 127.0.0.1 port, opens one headless Chromium session, and speaks plain
// HTTP/1.1 to it over a POSIX socket (JSON bodies through Boost.JSON). Header-only; no network
// but 127.0.0.1.
//
// Use:
//
//     #include "browser/webdriver.hpp"
//     namespace wd = nubefact::test::browser;
//
//     TEST(Dashboard, shows_the_documents) {
//         if (auto why = wd::webdriver::unavailable()) GTEST_SKIP() << *why;
//         wd::webdriver browser(scratch_dir);          // chromedriver + a session; throws if neither
//         browser.navigate("http://127.0.0.1:" + std::to_string(port) + "/");
//         auto w = browser.wait_until("document.querySelector('#total') !== null",
//                                     std::chrono::seconds(10));
//         ASSERT_TRUE(w) << w.why;                     // a bounded poll: false after the timeout
//         EXPECT_EQ(browser.text("#total"), "3");      // nullopt: no element matches
//         auto v = browser.execute("return arguments[0] * 2;", {21});   // a boost::json::value
//         for (const auto& e : browser.console_log())  // the console since the previous call
//             EXPECT_NE(e.level, "SEVERE") << e.message;   // CSP violations are SEVERE, "security"
//         std::cout << browser.screenshot("dashboard.png") << "\n";
//     }                                                // the session and chromedriver end here
//
// Every WebDriver error (a script that throws, a page that does not load within 30 s) is thrown
// as webdriver_error; each command waits at most 60 s for its answer.
//
// Screenshots and other artifacts go to artifacts_dir(): $NUBEFACT_TEST_ARTIFACTS when set, else
// test-artifacts/ in the build directory (NUBEFACT_TEST_BUILD_DIR, set by tests/CMakeLists.txt;
// the working directory when it is not defined). screenshot() takes a relative path inside it.
//
// The scratch directory given to the constructor holds the browser's fresh profile
// (chromium-profile/) and chromedriver's output (chromedriver.out, chromedriver.err: read them
// when a session does not start); the caller removes it.
//
// Console entries come from chromedriver's log endpoint `POST /session/{id}/se/log` with type
// "browser" (the session asks for `goog:loggingPrefs: {browser: ALL}`); chromedriver 156 answers
// both that and the legacy `/session/{id}/log`, and hands each entry out once.
#pragma once

#include "loopback.hpp"

#include <boost/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace nubefact::test::browser {

namespace fs = std::filesystem;
namespace json = boost::json;

// A WebDriver command that failed: `code` is the W3C error code ("no such element", "javascript
// error", "timeout"…), or "http" when no well-formed answer came.
class webdriver_error : public std::runtime_error {
  public:
    webdriver_error(const std::string& command, std::string code, const std::string& message)
        : std::runtime_error(command + ": " + describe(code, message)), code_(std::move(code)) {}
    const std::string& code() const { return code_; }

  private:
    // "javascript error: Cannot read…", without chromedriver's repeat of the code and its
    // "(Session info: chrome=…)" line.
    static std::string describe(const std::string& code, std::string message) {
        if (message.rfind(code + ": ", 0) == 0) message.erase(0, code.size() + 2);
        if (auto p = message.find("\n  (Session info:"); p != std::string::npos) message.erase(p);
        return code + ": " + message;
    }

    std::string code_;
};

// One browser console entry: level "INFO", "WARNING", "SEVERE" (console.error, a CSP violation, a
// failed load…), source "console-api", "security", "network", "javascript"…
struct console_entry {
    std::string level, message, source;
    std::int64_t timestamp = 0;  // ms since the epoch
};

// What wait_until() found: true when the condition held in time; else `why` says what was last seen.
struct wait_result {
    bool ok = false;
    std::string why;
    explicit operator bool() const { return ok; }
};

namespace detail {

// The full path of `name` on $PATH, or empty.
inline fs::path find_on_path(const std::string& name) {
    const char* path = std::getenv("PATH");
    std::stringstream dirs(path ? path : "/usr/bin:/bin");
    std::string dir;
    while (std::getline(dirs, dir, ':')) {
        if (dir.empty()) continue;
        const fs::path p = fs::path(dir) / name;
        if (::access(p.c_str(), X_OK) == 0) return p;
    }
    return {};
}

inline std::string base64_decode(const std::string& in) {
    auto digit = [](char c) -> int {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '+') return 62;
        if (c == '/') return 63;
        return -1;  // '=', white space
    };
    std::string out;
    out.reserve(in.size() / 4 * 3);
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : in) {
        const int d = digit(c);
        if (d < 0) continue;
        acc = (acc << 6) | static_cast<std::uint32_t>(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out.push_back(static_cast<char>((acc >> bits) & 0xFF));
        }
    }
    return out;
}

using nubefact::test::free_port;

struct http_answer {
    int status = 0;  // 0: no answer (refused, closed early, timed out)
    std::string body;
};

// One HTTP/1.1 request to 127.0.0.1:port (Connection: close); reads the answer by its
// Content-Length, or to the close. Gives up after `timeout`.
inline http_answer http_request(int port, const std::string& method, const std::string& target,
                                const std::string& body, std::chrono::milliseconds timeout) {
    using clock = std::chrono::steady_clock;
    const auto end = clock::now() + timeout;
    auto left_ms = [&] {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(end - clock::now()).count();
        return static_cast<int>(ms < 0 ? 0 : ms);
    };
    http_answer a;
    const int fd = nubefact::test::connect_loopback(port);
    if (fd < 0) return a;
    std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                      "\r\nConnection: close\r\nAccept: application/json\r\n";
    if (method != "GET" && method != "DELETE")
        req += "Content-Type: application/json; charset=utf-8\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n";
    req += "\r\n";
    if (method != "GET" && method != "DELETE") req += body;
    for (std::size_t sent = 0; sent < req.size();) {
        pollfd p{fd, POLLOUT, 0};
        if (::poll(&p, 1, left_ms()) <= 0) break;
        const ssize_t n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) break;
        sent += static_cast<std::size_t>(n);
    }
    std::string resp;
    std::optional<std::size_t> total;  // head + body, once the head is in
    char buf[65536];
    while (!total || resp.size() < *total) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, left_ms()) <= 0) break;
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0) break;
        resp.append(buf, static_cast<std::size_t>(n));
        if (!total) {
            const auto h = resp.find("\r\n\r\n");
            if (h == std::string::npos) continue;
            std::string head = resp.substr(0, h);
            for (auto& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
            const auto cl = head.find("\r\ncontent-length:");
            if (cl != std::string::npos) total = h + 4 + std::strtoul(head.c_str() + cl + 17, nullptr, 10);
        }
    }
    ::close(fd);
    const auto h = resp.find("\r\n\r\n");
    if (h == std::string::npos || resp.rfind("HTTP/1.", 0) != 0 || (total && resp.size() < *total)) return a;
    a.status = std::atoi(resp.c_str() + 9);
    a.body = resp.substr(h + 4, total ? *total - h - 4 : std::string::npos);
    return a;
}

}  // namespace detail

class webdriver {
  public:
    struct options {
        int width = 1280, height = 900;
        // How long chromedriver may take to answer /status with ready: true.
        std::chrono::milliseconds start_timeout = std::chrono::seconds(20);
        // The longest wait for one command's answer.
        std::chrono::milliseconds command_timeout = std::chrono::seconds(60);
        std::vector<std::string> extra_args;  // more Chromium switches
    };

    // Why browser tests cannot run here (chromedriver or chromium not on $PATH), or nullopt.
    static std::optional<std::string> unavailable() {
        const char* hint =
            " (Debian: apt-get install chromium chromium-driver, or scripts/bootstrap.sh --with-postgres)";
        if (detail::find_on_path("chromedriver").empty())
            return std::string("chromedriver is not on PATH") + hint;
        if (detail::find_on_path("chromium").empty()) return std::string("chromium is not on PATH") + hint;
        return std::nullopt;
    }

    // Where screenshots and other artifacts go (created): $NUBEFACT_TEST_ARTIFACTS, else
    // <build dir>/test-artifacts.
    static fs::path artifacts_dir() {
        fs::path dir;
        if (const char* env = std::getenv("NUBEFACT_TEST_ARTIFACTS"); env && *env)
            dir = env;
        else
#ifdef NUBEFACT_TEST_BUILD_DIR
            dir = fs::path(NUBEFACT_TEST_BUILD_DIR) / "test-artifacts";
#else
            dir = fs::current_path() / "test-artifacts";
#endif
        fs::create_directories(dir);
        return fs::absolute(dir);
    }

    // Starts chromedriver and opens a headless session; the profile and logs go into `scratch`.
    // Throws webdriver_error when chromedriver does not come up or the session is refused.
    explicit webdriver(const fs::path& scratch) : webdriver(scratch, options{}) {}
    webdriver(const fs::path& scratch, options o) : scratch_(scratch), timeout_(o.command_timeout) {
        fs::create_directories(scratch_);
        // A port someone else took between free_port() and chromedriver's bind: try another.
        for (int attempt = 0; attempt < 3 && !ready_; ++attempt) start_driver(o.start_timeout);
        if (!ready_) {
            stop_driver();
            throw webdriver_error(
                "start chromedriver", "http",
                "not ready within the time; see " + (scratch_ / "chromedriver.err").string());
        }
        try {
            create_session(o);
        } catch (...) {
            stop_driver();
            throw;
        }
    }

    ~webdriver() {
        if (!session_.empty()) {
            // Closes the browser; bounded, and never throws.
            detail::http_request(port_, "DELETE", "/session/" + session_, "", std::chrono::seconds(10));
        }
        stop_driver();
    }
    webdriver(const webdriver&) = delete;
    webdriver& operator=(const webdriver&) = delete;

    const std::string& session_id() const {
        return session_;
    }
    int driver_port() const {
        return port_;
    }

    // Loads `url` and waits (up to the 30 s page-load timeout) for it to finish loading.
    void navigate(const std::string& url) {
        command("POST", "/url", json::object{{"url", url}});
    }

    std::string current_url() {
        return std::string(command("GET", "/url").as_string());
    }

    // Runs `script` as a function body (`return …` gives the result; `arguments` are `args`).
    json::value execute(const std::string& script, const json::array& args = {}) {
        return command("POST", "/execute/sync", json::object{{"script", script}, {"args", args}});
    }

    // Like execute(), but the result is what the script passes to its last argument, a callback
    // (`arguments[arguments.length - 1](value)`); at most 30 s (the session's script timeout).
    json::value execute_async(const std::string& script, const json::array& args = {}) {
        return command("POST", "/execute/async", json::object{{"script", script}, {"args", args}});
    }

    // The rendered text of the first element that matches the CSS `selector`; nullopt when none.
    std::optional<std::string> text(const std::string& selector) {
        json::value found;
        try {
            found = command("POST", "/element", json::object{{"using", "css selector"}, {"value", selector}});
        } catch (const webdriver_error& e) {
            if (e.code() == "no such element") return std::nullopt;
            throw;
        }
        const auto id = std::string(found.as_object().at(element_key).as_string());
        return std::string(command("GET", "/element/" + id + "/text").as_string());
    }

    // Polls the JavaScript expression `js_condition` (every `every`) until it is truthy, at most
    // `timeout`. A condition that throws (an element not there yet) counts as false.
    wait_result wait_until(const std::string& js_condition, std::chrono::milliseconds timeout,
                           std::chrono::milliseconds every = std::chrono::milliseconds(50)) {
        const auto end = std::chrono::steady_clock::now() + timeout;
        wait_result r;
        for (;;) {
            try {
                const auto v = execute("return !!(" + js_condition + ");");
                if (v.is_bool() && v.as_bool()) return {true, {}};
                r.why = "the condition is false";
            } catch (const webdriver_error& e) {
                r.why = e.what();
            }
            if (std::chrono::steady_clock::now() >= end) break;
            std::this_thread::sleep_for(every);
        }
        r.why = "not true within " + std::to_string(timeout.count()) + " ms (" + js_condition + "): " + r.why;
        return r;
    }

    // The browser console entries logged since the previous call (chromedriver hands each out once).
    std::vector<console_entry> console_log() {
        json::value v;
        if (!legacy_log_) {
            try {
                v = command("POST", "/se/log", json::object{{"type", "browser"}});
            } catch (const webdriver_error& e) {
                if (e.code() != "unknown command" && e.code() != "unknown method") throw;
                legacy_log_ = true;
            }
        }
        if (legacy_log_) v = command("POST", "/log", json::object{{"type", "browser"}});
        std::vector<console_entry> out;
        if (!v.is_array()) return out;
        for (const auto& item : v.as_array()) {
            const auto& o = item.as_object();
            console_entry e;
            if (auto* p = o.if_contains("level"); p && p->is_string()) e.level = p->as_string();
            if (auto* p = o.if_contains("message"); p && p->is_string()) e.message = p->as_string();
            if (auto* p = o.if_contains("source"); p && p->is_string()) e.source = p->as_string();
            if (auto* p = o.if_contains("timestamp"); p && p->is_number())
                e.timestamp = p->to_number<std::int64_t>();
            out.push_back(std::move(e));
        }
        return out;
    }

    // Saves a PNG of the viewport; a relative `png` goes inside artifacts_dir(). Returns the path.
    fs::path screenshot(const fs::path& png) {
        const fs::path path = png.is_absolute() ? png : artifacts_dir() / png;
        const auto data = detail::base64_decode(std::string(command("GET", "/screenshot").as_string()));
        if (path.has_parent_path()) fs::create_directories(path.parent_path());
        std::ofstream out(path, std::ios::binary | std::ios::trunc);
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
        if (!out) throw webdriver_error("screenshot", "io", "cannot write " + path.string());
        return path;
    }

    // Resizes the browser window (outer size, CSS pixels).
    void set_window_size(int width, int height) {
        command("POST", "/window/rect", json::object{{"width", width}, {"height", height}});
    }

    // Any other session command: `path` after /session/{id} ("/title"); returns the answer's value.
    json::value command(const std::string& method, const std::string& path,
                        const json::value& body = json::object{}) {
        return call(method, "/session/" + session_ + path, body);
    }

  private:
    static constexpr const char* element_key = "element-6066-11e4-a52e-4f735466cecf";

    json::value call(const std::string& method, const std::string& target, const json::value& body) {
        const std::string what = method + " " + target;
        const auto a = detail::http_request(port_, method, target, json::serialize(body), timeout_);
        if (a.status == 0) throw webdriver_error(what, "http", "no answer from chromedriver");
        boost::system::error_code ec;
        auto v = json::parse(a.body, ec);
        if (ec || !v.is_object() || !v.as_object().contains("value"))
            throw webdriver_error(what, "http",
                                  "HTTP " + std::to_string(a.status) + ": " + a.body.substr(0, 300));
        auto value = v.as_object().at("value");
        if (a.status != 200) {
            std::string code = "unknown error", message;
            if (value.is_object()) {
                if (auto* p = value.as_object().if_contains("error"); p && p->is_string())
                    code = p->as_string();
                if (auto* p = value.as_object().if_contains("message"); p && p->is_string())
                    message = p->as_string();
            }
            throw webdriver_error(what, code, message);
        }
        return value;
    }

    void start_driver(std::chrono::milliseconds limit) {
        port_ = detail::free_port();
        if (port_ <= 0) return;
        const std::string binary = detail::find_on_path("chromedriver").string();
        const std::string port_arg = "--port=" + std::to_string(port_);
        const fs::path out = scratch_ / "chromedriver.out", err = scratch_ / "chromedriver.err";
        pid_ = ::fork();
        if (pid_ == 0) {
            // Its own process group: stop_driver() ends chromedriver and the browsers it started.
            ::setpgid(0, 0);
            auto redirect = [](const fs::path& p, int fd, int flags) {
                const int f = ::open(p.c_str(), flags, 0644);
                if (f < 0 || ::dup2(f, fd) < 0) ::_exit(127);
                ::close(f);
            };
            redirect("/dev/null", 0, O_RDONLY);
            redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
            redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
            ::execl(binary.c_str(), binary.c_str(), port_arg.c_str(), static_cast<char*>(nullptr));
            ::_exit(127);
        }
        if (pid_ < 0) return;
        ::setpgid(pid_, pid_);
        const auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            int st = 0;
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {  // exited (its port taken, say)
                pid_ = -1;
                return;
            }
            const auto a = detail::http_request(port_, "GET", "/status", "", std::chrono::seconds(2));
            if (a.status == 200) {
                boost::system::error_code ec;
                const auto v = json::parse(a.body, ec);
                if (!ec && v.is_object()) {
                    const auto* value = v.as_object().if_contains("value");
                    const auto* ready =
                        value && value->is_object() ? value->as_object().if_contains("ready") : nullptr;
                    if (ready && ready->is_bool() && ready->as_bool()) {
                        ready_ = true;
                        return;
                    }
                }
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
        stop_driver();
    }

    // SIGTERM to chromedriver's process group, SIGKILL after 5 s; reaps chromedriver.
    void stop_driver() {
        if (pid_ <= 0) return;
        ::kill(-pid_, SIGTERM);
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        int st = 0;
        bool reaped = false;
        while (std::chrono::steady_clock::now() < end) {
            if (::waitpid(pid_, &st, WNOHANG) == pid_) {
                reaped = true;
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
        ::kill(-pid_, SIGKILL);  // what is left of the group (a browser process that lingers)
        if (!reaped) ::waitpid(pid_, &st, 0);
        pid_ = -1;
    }

    void create_session(const options& o) {
        json::array args{"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--user-data-dir=" + (scratch_ / "chromium-profile").string(),
                         "--window-size=" + std::to_string(o.width) + "," + std::to_string(o.height),
                         // No first-run prompts, sign-in, component or field-trial fetches.
                         "--no-first-run", "--no-default-browser-check", "--disable-background-networking",
                         "--disable-component-update", "--disable-sync"};
        for (const auto& a : o.extra_args) args.emplace_back(a);
        json::object chrome{{"args", std::move(args)}};
        chrome["binary"] = detail::find_on_path("chromium").string();
        json::object caps{
            {"browserName", "chrome"},
            {"goog:chromeOptions", std::move(chrome)},
            {"goog:loggingPrefs", json::object{{"browser", "ALL"}}},
            {"timeouts", json::object{{"pageLoad", 30000}, {"script", 30000}, {"implicit", 0}}}};
        const auto v =
            call("POST", "/session", json::object{{"capabilities", json::object{{"alwaysMatch", caps}}}});
        if (!v.is_object() || !v.as_object().contains("sessionId"))
            throw webdriver_error("POST /session", "http", "no sessionId in " + json::serialize(v));
        session_ = v.as_object().at("sessionId").as_string();
    }

    fs::path scratch_;
    std::chrono::milliseconds timeout_;
    int port_ = 0;
    pid_t pid_ = -1;
    bool ready_ = false;
    bool legacy_log_ = false;
    std::string session_;
};

}  // namespace nubefact::test::browser
