// Helpers for tests that run the real `nubefact` binary: run to completion, run in the background,
// read files, plain HTTP GET on 127.0.0.1 (emulator admin endpoints).
#pragma once

#include "loopback.hpp"

#include <gtest/gtest.h>
#include <boost/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace nubefact::test::cli {

namespace fs = std::filesystem;

struct run_result {
    int rc = -1;  // exit code; -1 when killed by a signal
    std::string out, err;
};

inline std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

inline void spit(const fs::path& p, const std::string& text) {
    std::ofstream out(p, std::ios::binary);
    out << text;
}

// A fresh, empty scratch directory for the running test:
// <tmp>/nubefact-cli-<tag>-<pid>-<test name>. Remove it with remove_scratch_dir().
inline fs::path fresh_scratch_dir(const std::string& tag) {
    auto dir = fs::temp_directory_path() / ("nubefact-cli-" + tag + "-" + std::to_string(::getpid()) + "-" +
                                            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::error_code ec;
    fs::remove_all(dir, ec);
    fs::create_directories(dir);
    return dir;
}

inline void remove_scratch_dir(const fs::path& dir) {
    std::error_code ec;
    if (!dir.empty()) fs::remove_all(dir, ec);
}

// How a child is started: its working directory and environment. The parent's environment is
// inherited except every NUBEFACT_* variable (so a developer's account never leaks into a test);
// `env` adds variables on top.
struct spawn_options {
    fs::path cwd;
    std::map<std::string, std::string> env;
};

namespace detail {

// fork + exec, no shell. stdin from `in` (or /dev/null), stdout/stderr to files.
inline pid_t spawn(const std::string& binary, const std::vector<std::string>& args, const fs::path& in,
                   const fs::path& out, const fs::path& err, const spawn_options& o) {
    std::vector<std::string> env_strings;
    for (char** e = environ; *e; ++e)
        if (std::strncmp(*e, "NUBEFACT_", 9) != 0) env_strings.emplace_back(*e);
    for (const auto& [k, v] : o.env) env_strings.push_back(k + "=" + v);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    std::vector<char*> argv;
    argv.push_back(const_cast<char*>(binary.c_str()));
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid == 0) {
        auto redirect = [](const fs::path& p, int fd, int flags) {
            const int f = ::open(p.c_str(), flags, 0644);
            if (f < 0 || ::dup2(f, fd) < 0) ::_exit(127);
            ::close(f);
        };
        redirect(in.empty() ? fs::path("/dev/null") : in, 0, O_RDONLY);
        redirect(out, 1, O_WRONLY | O_CREAT | O_TRUNC);
        redirect(err, 2, O_WRONLY | O_CREAT | O_TRUNC);
        if (!o.cwd.empty() && ::chdir(o.cwd.c_str()) != 0) ::_exit(127);
        ::execve(binary.c_str(), argv.data(), envp.data());
        ::_exit(127);
    }
    return pid;
}

inline int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace detail

// Whether a child's stderr holds an AddressSanitizer, LeakSanitizer or UBSan report (the asan
// preset's binary): a report fails the test even when the exit code happened to be the expected one.
inline bool has_sanitizer_report(const std::string& err) {
    return err.find("ERROR: AddressSanitizer") != std::string::npos ||
           err.find("ERROR: LeakSanitizer") != std::string::npos ||
           err.find(": runtime error: ") != std::string::npos;
}

// Runs `binary args…` to completion with `input` on stdin; files go to `scratch`.
inline run_result run(const std::string& binary, const std::vector<std::string>& args,
                      const fs::path& scratch, const std::string& input = "", const spawn_options& o = {}) {
    const fs::path in = scratch / "stdin", out = scratch / "stdout", err = scratch / "stderr";
    spit(in, input);
    const pid_t pid = detail::spawn(binary, args, in, out, err, o);
    run_result r;
    int status = 0;
    ::waitpid(pid, &status, 0);
    r.rc = detail::exit_code(status);
    r.out = slurp(out);
    r.err = slurp(err);
    if (has_sanitizer_report(r.err)) ADD_FAILURE() << "sanitizer report from " << binary << ":\n" << r.err;
    return r;
}

// A child running in the background (an emulator, a sender to be killed). The destructor kills it
// (SIGKILL) if it is still running.
class background {
  public:
    background(const std::string& binary, const std::vector<std::string>& args, const fs::path& scratch,
               const std::string& name, const spawn_options& o = {})
        : out_(scratch / (name + ".out")), err_(scratch / (name + ".err")) {
        pid_ = detail::spawn(binary, args, {}, out_, err_, o);
    }
    ~background() {
        if (pid_ > 0 && !status_) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
        }
    }
    background(const background&) = delete;
    background& operator=(const background&) = delete;

    pid_t pid() const { return pid_; }
    std::string out() const { return slurp(out_); }
    std::string err() const { return slurp(err_); }

    // Whether it is still running (reaps it if not).
    bool running() {
        if (status_) return false;
        int st = 0;
        if (::waitpid(pid_, &st, WNOHANG) == pid_) status_ = st;
        return !status_;
    }
    void signal(int sig) { ::kill(pid_, sig); }

    // Waits up to `limit` for the exit; then SIGKILLs it. Returns the exit code (-1: signalled).
    int wait(std::chrono::milliseconds limit = std::chrono::seconds(30)) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (running() && std::chrono::steady_clock::now() < end)
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        if (running()) {
            ::kill(pid_, SIGKILL);
            int st = 0;
            ::waitpid(pid_, &st, 0);
            status_ = st;
        }
        if (auto e = err(); has_sanitizer_report(e)) ADD_FAILURE() << "sanitizer report:\n" << e;
        return detail::exit_code(*status_);
    }

    // Polls stdout (stderr: `on_err`) until it contains `text` (bounded). False on timeout or exit.
    bool wait_for_output(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(10),
                         bool on_err = false) {
        auto has = [&] { return (on_err ? err() : out()).find(text) != std::string::npos; };
        const auto end = std::chrono::steady_clock::now() + limit;
        while (std::chrono::steady_clock::now() < end) {
            if (has()) return true;
            if (!running()) return has();
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
        return false;
    }
    bool wait_for_error_output(const std::string& text,
                               std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        return wait_for_output(text, limit, true);
    }

  private:
    fs::path out_, err_;
    pid_t pid_ = -1;
    std::optional<int> status_;
};

// The text after `label` on the same line, trimmed ("  RUTA  http://…" -> "http://…").
inline std::string value_after(const std::string& text, const std::string& label) {
    auto p = text.find(label);
    if (p == std::string::npos) return {};
    p += label.size();
    auto e = text.find('\n', p);
    std::string v = text.substr(p, e == std::string::npos ? std::string::npos : e - p);
    while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.erase(0, 1);
    while (!v.empty() && (v.back() == ' ' || v.back() == '\r')) v.pop_back();
    return v;
}

struct http_reply {
    int status = 0;  // 0: no answer (connection closed, timeout)
    std::string head, body;
    boost::json::object json() const {
        boost::system::error_code ec;
        auto v = boost::json::parse(body, ec);
        return !ec && v.is_object() ? v.as_object() : boost::json::object{};
    }
    std::int64_t codigo() const {
        auto o = json();
        return o.contains("codigo") ? o.at("codigo").to_number<std::int64_t>() : -1;
    }
    std::string errors() const {
        auto o = json();
        return o.contains("errors") ? std::string(o.at("errors").as_string()) : std::string();
    }
};

using nubefact::test::connect_loopback;
using nubefact::test::free_port;

// Sends `raw` to 127.0.0.1:port and reads until the server closes (bounded by `timeout_s`).
// One connection: `pieces` written in order, 30 ms apart (so that the server reads them apart),
// then everything the server answers until it closes or `timeout_s` passes.
inline http_reply http_raw_pieces(int port, const std::vector<std::string>& pieces, int timeout_s = 10) {
    http_reply r;
    const int fd = connect_loopback(port);
    std::string resp;
    if (fd >= 0) {
        timeval tv{timeout_s, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        for (std::size_t i = 0; i < pieces.size(); ++i) {
            if (i > 0) std::this_thread::sleep_for(std::chrono::milliseconds(30));
            const std::string& raw = pieces[i];
            std::size_t sent = 0;
            while (sent < raw.size()) {
                const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
                if (n <= 0) break;
                sent += static_cast<std::size_t>(n);
            }
        }
        char buf[16384];
        for (;;) {
            const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n <= 0) break;
            resp.append(buf, static_cast<std::size_t>(n));
        }
    }
    if (fd >= 0) ::close(fd);
    const auto h = resp.find("\r\n\r\n");
    if (h == std::string::npos || resp.rfind("HTTP/1.", 0) != 0) return r;
    r.status = std::atoi(resp.c_str() + 9);
    r.head = resp.substr(0, h);
    r.body = resp.substr(h + 4);
    return r;
}

inline http_reply http_raw(int port, const std::string& raw, int timeout_s = 10) {
    return http_raw_pieces(port, {raw}, timeout_s);
}

// Sends `raw` (pipelined requests, say) on one connection whose receive buffer is small and
// half-closes, without reading (unless the server stops taking bytes for 100 ms); waits up to
// 500 ms for a reset, then reads until the server closes or 10 s pass. Returns the answers that
// came whole, in order (each by its Content-Length), and in `tail` the bytes after them (an
// answer cut short). Most of the answers are still in the server's socket when it closes: a
// server that closes with unread input sends RST, and RST discards them (net/linger.hpp).
inline std::vector<http_reply> http_pipelined(int port, const std::string& raw, std::string* tail = nullptr) {
    std::vector<http_reply> out;
    const int fd = connect_loopback(port, 4096);
    std::string got;
    auto read_some = [&] {
        char buf[2048];
        const ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
        if (n > 0) got.append(buf, static_cast<std::size_t>(n));
        return n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
    };
    if (fd >= 0) {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        for (std::size_t sent = 0; sent < raw.size() && std::chrono::steady_clock::now() < end;) {
            pollfd p{fd, POLLOUT, 0};
            if (::poll(&p, 1, 100) <= 0) {
                read_some();  // the server waits for us to read before it reads on
                continue;
            }
            const ssize_t n = ::send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) break;  // reset: read what is left
            if (n > 0) sent += static_cast<std::size_t>(n);
        }
        ::shutdown(fd, SHUT_WR);
        pollfd hup{fd, 0, 0};
        ::poll(&hup, 1, 500);  // POLLERR | POLLHUP: the server reset the connection
        while (std::chrono::steady_clock::now() < end) {
            pollfd p{fd, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0) continue;
            const auto before = got.size();
            if (!read_some() || got.size() == before) break;  // the end, or reset
        }
    }
    if (fd >= 0) ::close(fd);
    std::size_t at = 0;
    for (;;) {
        const auto h = got.find("\r\n\r\n", at);
        if (h == std::string::npos || got.compare(at, 7, "HTTP/1.") != 0) break;
        const std::string head = got.substr(at, h - at);
        std::size_t length = 0;
        const auto cl = head.find("Content-Length: ");
        if (cl != std::string::npos) length = std::strtoul(head.c_str() + cl + 16, nullptr, 10);
        if (got.size() < h + 4 + length) break;
        http_reply r;
        r.status = std::atoi(got.c_str() + at + 9);
        r.head = head;
        r.body = got.substr(h + 4, length);
        out.push_back(std::move(r));
        at = h + 4 + length;
    }
    if (tail) *tail = got.substr(at);
    return out;
}

// A POST as a Nubefact client sends it; `authorization` empty: no header.
inline http_reply http_post(int port, const std::string& target, const std::string& body,
                            const std::string& authorization,
                            const std::string& content_type = "application/json") {
    std::string req = "POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    if (!authorization.empty()) req += "Authorization: " + authorization + "\r\n";
    if (!content_type.empty()) req += "Content-Type: " + content_type + "\r\n";
    req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
    return http_raw(port, req);
}

inline http_reply http_get_reply(int port, const std::string& target) {
    return http_raw(port, "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
}

// GET http://127.0.0.1:port/target; the body of a 200, or nullopt (no answer, another status).
inline std::optional<std::string> http_get(int port, const std::string& target) {
    auto r = http_get_reply(port, target);
    if (r.status != 200) return std::nullopt;
    return r.body;
}

// One JSON object per non-empty line.
inline std::vector<boost::json::object> parse_jsonl(const std::string& text) {
    std::vector<boost::json::object> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line))
        if (!line.empty()) out.push_back(boost::json::parse(line).as_object());
    return out;
}

// A separate `nubefact emulator` process on 127.0.0.1:0 with the admin endpoints; the demo
// account's ruta/token are read from its start-up banner. `dates` says how it judges
// fecha_de_emision (default: any day of the last 100,000, for documents with fixed dates).
struct emulator_process {
    std::unique_ptr<background> proc;
    int port = 0;
    std::string ruta, token;

    emulator_process(const std::string& binary, const fs::path& scratch, std::vector<std::string> extra = {},
                     std::vector<std::string> dates = {"--max-age-days", "100000"}) {
        std::vector<std::string> args{"emulator", "--listen", "127.0.0.1:0", "--admin"};
        args.insert(args.end(), dates.begin(), dates.end());
        args.insert(args.end(), extra.begin(), extra.end());
        proc = std::make_unique<background>(binary, args, scratch, "emulator");
        if (!proc->wait_for_output("Ctrl-C to stop.")) return;
        const auto out = proc->out();
        port = std::atoi(value_after(out, "listening on http://127.0.0.1:").c_str());
        ruta = value_after(out, "RUTA");
        token = value_after(out, "TOKEN");
    }
    bool ok() const { return port > 0 && !ruta.empty() && !token.empty(); }
    // The account as environment; no rate limit (the default is Nubefact's 10 requests/s).
    std::map<std::string, std::string> env() const {
        return {{"NUBEFACT_RUTA", ruta}, {"NUBEFACT_TOKEN", token}, {"NUBEFACT_RATE", "0"}};
    }
    boost::json::object stats() const {
        auto body = http_get(port, "/__emulator/stats");
        return body ? boost::json::parse(*body).as_object() : boost::json::object{};
    }
    // Held answers (docs/emulator.md): after hold(n), n more document answers go out, then each
    // waits; held() says how many wait; release() sends them. wait_held(k): until k wait (or 20 s).
    bool hold(int after) const {
        return http_post(port, "/__emulator/hold?after=" + std::to_string(after), "", "", "").status == 200;
    }
    bool release() const { return http_post(port, "/__emulator/release", "", "", "").status == 200; }
    std::int64_t held() const {
        auto st = stats();
        return st.contains("held") ? st.at("held").to_number<std::int64_t>() : -1;
    }
    bool wait_held(std::int64_t k) const {
        const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(20);
        while (std::chrono::steady_clock::now() < end)
            if (held() >= k)
                return true;
            else
                std::this_thread::sleep_for(std::chrono::milliseconds(2));
        return false;
    }
    // Requests the emulator answered for `op` (every outcome); -1 when the stats cannot be read.
    std::int64_t requests(const std::string& op) const {
        auto st = stats();
        if (!st.contains("requests")) return -1;
        const auto& by_op = st.at("requests").as_object();
        auto it = by_op.find(op);
        if (it == by_op.end()) return 0;
        std::int64_t n = 0;
        for (const auto& [outcome, count] : it->value().as_object()) n += count.to_number<std::int64_t>();
        return n;
    }
    std::int64_t consultations() const {
        return requests("consultar_comprobante") + requests("consultar_anulacion") +
               requests("consultar_guia");
    }
};

}  // namespace nubefact::test::cli
