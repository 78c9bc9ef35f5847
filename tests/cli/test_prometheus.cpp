// The gateway's /metrics read by Prometheus's own tools (Debian's `prometheus` package, which
// scripts/bootstrap.sh --with-postgres installs): `promtool check metrics` on the text a real
// `nubefact serve` answers, a real `prometheus` (its own port and data directory on 127.0.0.1)
// scraping that gateway and answering a query for its counter, and `promtool check rules` on the
// example alert rules of docs/prometheus/nubefact-rules.yml, which that Prometheus also evaluates.
#include "serve_fixture.hpp"

#include <nubefact/gateway.hpp>

#include <gtest/gtest.h>

#include <thread>

namespace {

std::string source_dir() {
    const char* root = std::getenv("NUBEFACT_SOURCE_DIR");
    return root ? root : "";
}

// `name` on the PATH (then /usr/bin, /usr/sbin), or empty.
std::string find_program(const std::string& name) {
    std::vector<std::string> dirs;
    if (const char* path = std::getenv("PATH")) {
        std::string p = path;
        for (std::size_t at = 0;;) {
            const auto colon = p.find(':', at);
            dirs.push_back(p.substr(at, colon == std::string::npos ? std::string::npos : colon - at));
            if (colon == std::string::npos) break;
            at = colon + 1;
        }
    }
    dirs.insert(dirs.end(), {"/usr/bin", "/usr/sbin"});
    for (const auto& d : dirs) {
        if (d.empty()) continue;
        const auto candidate = fs::path(d) / name;
        if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
    }
    return {};
}

#define NEED_PROGRAM(var, name)                                           \
    const std::string var = find_program(name);                           \
    if (var.empty())                                                      \
    GTEST_SKIP() << "`" name                                              \
                    "` not found: install Debian's `prometheus` package " \
                    "(scripts/bootstrap.sh --with-postgres does)"

// Percent-encodes everything but unreserved characters (a PromQL expression in a query string).
std::string url_encode(std::string_view s) {
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~')
            out.push_back(static_cast<char>(c));
        else
            out += fmt::format("%{:02X}", c);
    }
    return out;
}

// GET 127.0.0.1:port/target: the body of a 200, its chunks joined (Prometheus sends a large answer
// chunked), or nothing.
std::optional<std::string> get(int port, const std::string& target) {
    auto r = http_get_reply(port, target);
    if (r.status != 200) return std::nullopt;
    if (r.head.find("Transfer-Encoding: chunked") == std::string::npos) return r.body;
    std::string body;
    for (std::size_t at = 0;;) {
        const auto eol = r.body.find("\r\n", at);
        if (eol == std::string::npos) return std::nullopt;
        const auto size = std::strtoul(r.body.c_str() + at, nullptr, 16);
        if (size == 0) return body;
        if (eol + 2 + size > r.body.size()) return std::nullopt;
        body.append(r.body, eol + 2, size);
        at = eol + 2 + size + 2;
    }
}

// The instant vector Prometheus answers for `expr` (its HTTP API's data.result), or nothing when it
// does not answer (yet) or answers an error.
std::optional<json::array> query(int port, const std::string& expr) {
    auto body = get(port, "/api/v1/query?query=" + url_encode(expr));
    if (!body) return std::nullopt;
    boost::system::error_code ec;
    auto v = json::parse(*body, ec);
    if (ec || !v.is_object()) return std::nullopt;
    const auto* status = v.as_object().if_contains("status");
    if (!status || !status->is_string() || status->as_string() != "success") return std::nullopt;
    return v.at("data").at("result").as_array();
}

class PrometheusCli : public ServeCli {
  protected:
    void TearDown() override {
        if (prometheus_ && prometheus_->running()) {
            prometheus_->signal(SIGTERM);
            EXPECT_EQ(prometheus_->wait(std::chrono::seconds(20)), 0) << prometheus_->err();
        }
        prometheus_.reset();
        ServeCli::TearDown();
    }

    // `prometheus` on 127.0.0.1 with a free port and its own data directory, scraping the gateway
    // every second as job nubefact-gateway and evaluating the example rules; the port, or 0.
    int start_prometheus(const std::string& binary) {
        const auto rules = fs::path(source_dir()) / "docs/prometheus/nubefact-rules.yml";
        const auto config = dir_ / "prometheus.yml";
        spit(config, fmt::format(R"(global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {}
scrape_configs:
  - job_name: nubefact-gateway
    static_configs:
      - targets: ['127.0.0.1:{}']
)",
                                 rules.string(), port_));
        for (int attempt = 0; attempt < 3; ++attempt) {  // the free port may be taken meanwhile
            const int port = free_port();
            if (port == 0) continue;
            const auto data = dir_ / ("prometheus-data-" + std::to_string(attempt));
            fs::create_directories(data);
            prometheus_ = std::make_unique<background>(
                binary,
                std::vector<std::string>{"--config.file=" + config.string(),
                                         "--storage.tsdb.path=" + data.string(),
                                         "--web.listen-address=127.0.0.1:" + std::to_string(port)},
                dir_, "prometheus" + std::to_string(attempt), spawn_options{dir_, {}});
            if (prometheus_->wait_for_error_output("Server is ready to receive web requests",
                                                   std::chrono::seconds(30)))
                return port;
            prometheus_->signal(SIGTERM);
            prometheus_->wait(std::chrono::seconds(10));
            if (prometheus_->err().find("address already in use") == std::string::npos) break;
        }
        ADD_FAILURE() << "prometheus did not start:\n" << (prometheus_ ? prometheus_->err() : "");
        return 0;
    }

    std::unique_ptr<background> prometheus_;
};

TEST_F(PrometheusCli, PromtoolAcceptsTheMetricsAndPrometheusScrapesThem) {
    NEED_PROGRAM(promtool, "promtool");
    NEED_PROGRAM(prometheus, "prometheus");
    ASSERT_FALSE(source_dir().empty()) << "NUBEFACT_SOURCE_DIR not set";
    start_upstream();
    start_serve();
    auto r = post(acme_, factura(1));
    ASSERT_EQ(r.status, 200) << r.head << r.body << serve_->err();
    ASSERT_EQ(http_get_reply(port_, "/nowhere").status, 404);  // a second route label, code 404

    // (a) promtool on the text /metrics answers, once it has the document's gauge (the final state
    // is written behind the answer: a commit later it is counted; bounded).
    std::optional<std::string> text;
    for (int i = 0; i < 100; ++i) {
        text = http_get(port_, "/metrics");
        if (text && text->find(R"(nubefact_gateway_documents{account="acme",state="accepted"} 1)") !=
                        std::string::npos)
            break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(text);
    for (const auto* name :
         {"# TYPE nubefact_gateway_http_requests_total counter",
          "# TYPE nubefact_gateway_http_request_duration_seconds histogram", "nubefact_gateway_draining 0",
          R"(nubefact_gateway_documents{account="acme",state="accepted"} 1)"})
        EXPECT_NE(text->find(name), std::string::npos) << name << " not in:\n" << *text;
    auto check = run(promtool, {"check", "metrics"}, dir_, *text);
    EXPECT_EQ(check.rc, 0) << "promtool check metrics:\n" << check.out << check.err << "\non:\n" << *text;

    // (b) prometheus scrapes the gateway and answers for its counter.
    const int prom = start_prometheus(prometheus);
    ASSERT_GT(prom, 0);
    const std::string expr =
        R"(nubefact_gateway_http_requests_total{job="nubefact-gateway",route="/api/v1/{ruta}",code="200"})";
    std::optional<json::array> got;
    const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (std::chrono::steady_clock::now() < end && prometheus_->running()) {
        got = query(prom, expr);
        if (got && !got->empty()) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    ASSERT_TRUE(got && !got->empty()) << "no sample of " << expr << " within 30 s; targets:\n"
                                      << get(prom, "/api/v1/targets").value_or("(no answer)") << "\n"
                                      << prometheus_->err();
    ASSERT_EQ(got->size(), 1u) << json::serialize(*got);
    const auto& sample = got->at(0).as_object();
    EXPECT_EQ(sample.at("metric").at("instance").as_string(), fmt::format("127.0.0.1:{}", port_));
    EXPECT_EQ(sample.at("value").at(1).as_string(), "1")
        << json::serialize(sample);  // the one POST answered 200

    // The same scrape brought the others: the 404 and the gateway's up.
    auto other = query(prom, R"(nubefact_gateway_http_requests_total{route="other",code="404"})");
    ASSERT_TRUE(other && other->size() == 1u) << (other ? json::serialize(*other) : "(no answer)");
    EXPECT_EQ(other->at(0).at("value").at(1).as_string(), "1");
    auto up = query(prom, R"(up{job="nubefact-gateway"})");
    ASSERT_TRUE(up && up->size() == 1u);
    EXPECT_EQ(up->at(0).at("value").at(1).as_string(), "1");

    // The example rules load and evaluate on these series without an error (bounded, as above).
    std::string rules_body;
    int evaluated = 0, failed = 0;
    while (std::chrono::steady_clock::now() < end) {
        rules_body = get(prom, "/api/v1/rules?type=alert").value_or("");
        boost::system::error_code ec;
        auto v = json::parse(rules_body, ec);
        evaluated = failed = 0;
        if (!ec && v.is_object() && v.as_object().contains("data"))
            for (const auto& g : v.at("data").at("groups").as_array())
                for (const auto& rule : g.at("rules").as_array()) {
                    const auto& health = rule.at("health").as_string();
                    evaluated += health == "ok";
                    failed += health == "err";
                }
        if (failed > 0 || evaluated == 6) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
    EXPECT_EQ(failed, 0) << rules_body;
    EXPECT_EQ(evaluated, 6) << rules_body;
}

TEST(PrometheusRules, PromtoolAcceptsTheExampleRules) {
    NEED_PROGRAM(promtool, "promtool");
    ASSERT_FALSE(source_dir().empty()) << "NUBEFACT_SOURCE_DIR not set";
    const auto rules = fs::path(source_dir()) / "docs/prometheus/nubefact-rules.yml";
    ASSERT_TRUE(fs::exists(rules)) << rules;
    const auto dir = fresh_scratch_dir("promrules");
    auto r = run(promtool, {"check", "rules", rules.string()}, dir);
    EXPECT_EQ(r.rc, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("SUCCESS: 6 rules found"), std::string::npos) << r.out << r.err;
    remove_scratch_dir(dir);
}

// The scrape configuration docs/gateway.md shows ("## Prometheus"), with its rule file where the
// source tree has it: `promtool check config` accepts both.
TEST(PrometheusRules, PromtoolAcceptsTheScrapeConfigOfTheDocs) {
    NEED_PROGRAM(promtool, "promtool");
    ASSERT_FALSE(source_dir().empty()) << "NUBEFACT_SOURCE_DIR not set";
    const auto page = slurp(fs::path(source_dir()) / "docs/gateway.md");
    const auto section = page.find("\n## Prometheus\n");
    ASSERT_NE(section, std::string::npos) << "docs/gateway.md has no section ## Prometheus";
    const auto open = page.find("```yaml\n", section);
    ASSERT_NE(open, std::string::npos);
    const auto close = page.find("```", open + 8);
    ASSERT_NE(close, std::string::npos);
    std::string config = page.substr(open + 8, close - open - 8);
    const std::string shown = "/etc/prometheus/nubefact-rules.yml";
    const auto at = config.find(shown);
    ASSERT_NE(at, std::string::npos) << config;
    config.replace(at, shown.size(),
                   (fs::path(source_dir()) / "docs/prometheus/nubefact-rules.yml").string());
    const auto dir = fresh_scratch_dir("promconfig");
    spit(dir / "prometheus.yml", config);
    auto r = run(promtool, {"check", "config", (dir / "prometheus.yml").string()}, dir);
    EXPECT_EQ(r.rc, 0) << r.out << r.err << "\non:\n" << config;
    EXPECT_NE(r.out.find("SUCCESS: 6 rules found"), std::string::npos) << r.out << r.err;
    remove_scratch_dir(dir);
}

// Label values with a quote, a backslash and a newline (an account name as the store may hold it)
// are escaped as the text format wants: promtool reads them back.
TEST(PrometheusRules, PromtoolAcceptsEscapedLabelValues) {
    NEED_PROGRAM(promtool, "promtool");
    nubefact::gateway::metrics m;
    m.observe("/api/v1/{ruta}", 200, std::chrono::microseconds(1500));
    m.observe("other", 404, std::chrono::microseconds(20));
    const std::vector<nubefact::store::store::state_count> docs = {
        {"acme \"norte\" \\ sur\nlinea 2", nubefact::doc_state::unknown, 3},
        {"beta", nubefact::doc_state::accepted, 7}};
    const auto text = m.prometheus(docs, 2, 1, true);
    EXPECT_NE(text.find(R"(account="acme \"norte\" \\ sur\nlinea 2",state="unknown"} 3)"), std::string::npos)
        << text;
    const auto dir = fresh_scratch_dir("promlabels");
    auto r = run(promtool, {"check", "metrics"}, dir, text);
    EXPECT_EQ(r.rc, 0) << r.out << r.err << "\non:\n" << text;
    remove_scratch_dir(dir);
}

}  // namespace
