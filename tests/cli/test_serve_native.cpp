// The real `nubefact serve`'s native API (/v1/accounts/{account}/documents) against a `nubefact
// emulator` process: create (202 as soon as the intent is durable, 200 when final or already there),
// Prefer: wait, the document and the list, ETag, problem+json errors, tenants, and Idempotency-Key
// (replay, other body, in flight, across a restart). Races are driven by the emulator's holds.
#include "serve_fixture.hpp"

#include <gtest/gtest.h>

#include <future>

namespace {

class ServeNative : public ServeCli {
  protected:
    // One request to the native API with `token` as the Bearer token (none when empty).
    http_reply call(const std::string& method, const std::string& path, const std::string& token,
                    const std::string& body = "", const std::vector<std::string>& headers = {}) {
        std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
        if (!token.empty()) req += "Authorization: Bearer " + token + "\r\n";
        for (const auto& h : headers) req += h + "\r\n";
        if (method == "POST" || !body.empty()) {
            bool typed = false;
            for (const auto& h : headers) typed = typed || h.rfind("Content-Type:", 0) == 0;
            if (!typed) req += "Content-Type: application/json\r\n";
            req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
        }
        req += "\r\n" + body;
        return http_raw(port_, req, 30);
    }
    http_reply create(const std::string& body, const std::vector<std::string>& headers = {}) {
        return call("POST", docs(), acme_.token, body, headers);
    }
    static std::string docs(const std::string& account = "acme") {
        return "/v1/accounts/" + account + "/documents";
    }
    static std::string header(const http_reply& r, const std::string& name) {
        return value_after(r.head, "\r\n" + name + ": ");
    }
    static std::string state(const http_reply& r) {
        auto o = r.json();
        return o.contains("state") ? std::string(o.at("state").as_string()) : std::string();
    }
};

TEST_F(ServeNative, CreateAnswers202OnceDurableThenTheDocumentTurnsAccepted) {
    start_upstream();
    start_serve();
    ASSERT_TRUE(emulator_->hold(0));  // Nubefact's answer waits: the document stays on its way
    auto r = create(factura(1));
    ASSERT_EQ(r.status, 202) << r.head << r.body;
    EXPECT_EQ(header(r, "Location"), "/v1/accounts/acme/documents/1-F001-1");
    EXPECT_EQ(state(r), "sending");
    EXPECT_NE(r.head.find("Content-Type: application/json"), std::string::npos) << r.head;
    // It is in the store already (journaled before it was sent).
    auto st = cli({"status", "F001-1", "--store", store_, "--json"});
    EXPECT_NE(st.out.find("\"state\":\"sending\""), std::string::npos) << st.out << st.err;
    ASSERT_TRUE(emulator_->wait_held(1));
    ASSERT_TRUE(emulator_->release());
    http_reply got;
    for (int i = 0; i < 200 && state(got) != "accepted"; ++i) {
        if (i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
        got = call("GET", docs() + "/1-F001-1", acme_.token);
    }
    ASSERT_EQ(got.status, 200) << got.body;
    EXPECT_EQ(state(got), "accepted");
    auto o = got.json();
    EXPECT_EQ(o.at("id"), "1-F001-1");
    EXPECT_EQ(o.at("serie"), "F001");
    EXPECT_TRUE(o.at("aceptada_por_sunat").as_bool());
    EXPECT_NE(std::string(o.at("cadena_para_codigo_qr").as_string()), "");
    EXPECT_NE(std::string(o.at("enlace_del_pdf").as_string()), "");
    EXPECT_EQ(o.at("links").at("self"), "/v1/accounts/acme/documents/1-F001-1");
    // The same number and content again: 200 with what is there, nothing sent again.
    auto again = create(factura(1));
    EXPECT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(state(again), "accepted");
    // Other content under the number: 409.
    auto other = create(other_content(factura(1)));
    EXPECT_EQ(other.status, 409) << other.body;
    EXPECT_NE(other.head.find("Content-Type: application/problem+json"), std::string::npos) << other.head;
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);
    // ETag: a conditional GET of an unchanged document is 304 without a body.
    const auto etag = header(got, "ETag");
    ASSERT_FALSE(etag.empty()) << got.head;
    auto cached = call("GET", docs() + "/1-F001-1", acme_.token, "", {"If-None-Match: " + etag});
    EXPECT_EQ(cached.status, 304) << cached.head;
    EXPECT_TRUE(cached.body.empty());
    // The list, filtered.
    auto list = call("GET", docs() + "?state=accepted&limit=10", acme_.token);
    ASSERT_EQ(list.status, 200) << list.body;
    ASSERT_EQ(list.json().at("documents").as_array().size(), 1u) << list.body;
    auto none = call("GET", docs() + "?state=rejected", acme_.token);
    EXPECT_EQ(none.json().at("documents").as_array().size(), 0u) << none.body;
    expect_no_secrets_logged();
}

TEST_F(ServeNative, PreferWaitGivesTheFinalAnswerOrA202WhenItIsLate) {
    start_upstream();
    start_serve();
    auto r = create(factura(1), {"Prefer: wait=10"});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(state(r), "accepted");
    EXPECT_EQ(header(r, "Preference-Applied"), "wait=10");
    EXPECT_NE(std::string(r.json().at("codigo_hash").as_string()), "");  // what the POS prints, at once
    // Nubefact late: after the wait, 202 and the document goes on.
    ASSERT_TRUE(emulator_->hold(0));
    auto late = create(factura(2), {"Prefer: respond-async, wait=1"});
    EXPECT_EQ(late.status, 202) << late.body;
    EXPECT_EQ(state(late), "sending");
    ASSERT_TRUE(emulator_->release());
}

TEST_F(ServeNative, MistakesGetProblemDetailsAndNothingIsSent) {
    start_upstream();
    start_serve();
    auto no_auth = call("GET", docs(), "");
    EXPECT_EQ(no_auth.status, 401);
    EXPECT_EQ(header(no_auth, "WWW-Authenticate"), "Bearer");
    EXPECT_NE(no_auth.head.find("application/problem+json"), std::string::npos) << no_auth.head;
    EXPECT_EQ(no_auth.json().at("status").to_number<int>(), 401);
    EXPECT_EQ(call("GET", docs(), "nfk_live_wrong").status, 401);
    // The drop-in's Token form is not the native API's.
    EXPECT_EQ(http_raw(port_, "GET " + docs() + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + acme_.auth() +
                                  "\r\nConnection: close\r\n\r\n")
                  .status,
              401);
    // Another tenant's account does not exist for this key.
    EXPECT_EQ(call("GET", docs("beta"), acme_.token).status, 404);
    EXPECT_EQ(call("POST", docs("beta"), acme_.token, factura(1)).status, 404);
    EXPECT_EQ(call("GET", docs() + "/F001-1", acme_.token).status, 404);     // not an id
    EXPECT_EQ(call("GET", docs() + "/1-F001-99", acme_.token).status, 404);  // no such document
    EXPECT_EQ(create(factura(1), {"Content-Type: text/plain"}).status, 415);
    auto unreadable = create("{not json");
    EXPECT_EQ(unreadable.status, 400) << unreadable.body;
    auto wrong = create(factura(1, "F001", "120.00"));
    ASSERT_EQ(wrong.status, 422) << wrong.body;
    const auto problem = wrong.json();
    const auto& errors = problem.at("errors").as_array();
    ASSERT_FALSE(errors.empty()) << wrong.body;
    bool total = false;
    for (const auto& e : errors)
        if (e.at("path") == "total") {
            total = true;
            EXPECT_EQ(e.at("expected"), "118.00") << wrong.body;
            EXPECT_EQ(e.at("actual"), "120.00") << wrong.body;
        }
    EXPECT_TRUE(total) << wrong.body;
    auto put = call("PUT", docs(), acme_.token);
    EXPECT_EQ(put.status, 405);
    EXPECT_EQ(header(put, "Allow"), "GET, HEAD, POST");
    EXPECT_EQ(call("GET", docs() + "?state=nope", acme_.token).status, 400);
    EXPECT_EQ(call("GET", docs() + "?limit=0", acme_.token).status, 400);
    EXPECT_EQ(create(consulta(1)).status, 422);  // a consulta is not a document to create
    // A revoked key.
    ASSERT_EQ(cli({"keys", "revoke", "--store", store_, acme_.ruta}).rc, 0);
    for (int i = 0; i < 100 && call("GET", docs(), acme_.token).status != 401; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_EQ(call("GET", docs(), acme_.token).status, 401);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 0);
    expect_no_secrets_logged();
}

TEST_F(ServeNative, IdempotencyKeyReplaysRefusesOtherBodiesAndInFlightRepeats) {
    start_upstream();
    start_serve();
    const std::string k1 = "Idempotency-Key: 3f1c-order-1001";
    auto first = create(factura(1), {k1, "Prefer: wait=10"});
    ASSERT_EQ(first.status, 200) << first.body;
    auto replay = create(factura(1), {k1, "Prefer: wait=10"});
    EXPECT_EQ(replay.status, 200);
    EXPECT_EQ(header(replay, "Idempotent-Replayed"), "true") << replay.head;
    EXPECT_EQ(replay.body, first.body);
    EXPECT_EQ(header(replay, "Location"), header(first, "Location"));
    auto other = create(factura(2), {k1});
    EXPECT_EQ(other.status, 422) << other.body;
    EXPECT_EQ(create(factura(3), {"Idempotency-Key: " + std::string(300, 'k')}).status, 400);

    // The same key while its first request is still being answered: 409 with Retry-After.
    ASSERT_TRUE(emulator_->hold(0));
    const std::string k2 = "Idempotency-Key: 3f1c-order-1002";
    auto pending = std::async(std::launch::async, [&] {
        return create(factura(4), {k2, "Prefer: wait=20"});
    });
    ASSERT_TRUE(emulator_->wait_held(1));
    auto busy = create(factura(4), {k2, "Prefer: wait=20"});
    EXPECT_EQ(busy.status, 409) << busy.body;
    EXPECT_EQ(header(busy, "Retry-After"), "1") << busy.head;
    ASSERT_TRUE(emulator_->release());
    auto done = pending.get();
    EXPECT_EQ(done.status, 200) << done.body;

    // Kept in the store: a new process replays it too, and nothing is sent twice.
    serve_->signal(SIGTERM);
    ASSERT_EQ(serve_->wait(), 0) << serve_->err();
    start_serve();
    auto later = create(factura(4), {k2});
    EXPECT_EQ(later.status, 200) << later.body;
    EXPECT_EQ(header(later, "Idempotent-Replayed"), "true");
    EXPECT_EQ(later.body, done.body);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 2);
    // Keys are per tenant: beta's same key is a new one.
    auto beta = call("POST", docs("beta"), beta_.token, factura(1), {k1, "Prefer: wait=10"});
    EXPECT_EQ(beta.status, 200) << beta.body;
    EXPECT_TRUE(header(beta, "Idempotent-Replayed").empty());
}

}  // namespace

namespace {

// An open GET …/events: reads what the gateway streams, within a bounded time.
class event_stream {
  public:
    event_stream(int port, const std::string& path, const std::string& token) {
        fd_ = connect_loopback(port);
        if (fd_ < 0) return;
        const std::string req =
            "GET " + path + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + "\r\n\r\n";
        (void)::send(fd_, req.data(), req.size(), MSG_NOSIGNAL);
    }
    ~event_stream() {
        if (fd_ >= 0) ::close(fd_);
    }
    // Reads until `text` has arrived (true) or `limit` passed or the stream ended (false).
    bool read_until(const std::string& text, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (got.find(text) == std::string::npos) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0) return false;
            if (fd_ < 0) return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
            char buf[4096];
            const auto n = ::recv(fd_, buf, sizeof buf, 0);
            if (n <= 0) return false;
            got.append(buf, static_cast<std::size_t>(n));
        }
        return true;
    }
    std::string got;

  private:
    int fd_ = -1;
};

TEST_F(ServeNative, SummaryTimelineAndLiveEvents) {
    start_upstream();
    start_serve();
    ASSERT_EQ(create(factura(1), {"Prefer: wait=10"}).status, 200);
    auto sum = call("GET", docs().substr(0, docs().size() - 10) + "/summary", acme_.token);
    ASSERT_EQ(sum.status, 200) << sum.body;
    auto o = sum.json();
    EXPECT_EQ(o.at("account"), "acme");
    ASSERT_EQ(o.at("states").as_array().size(), 1u) << sum.body;
    EXPECT_EQ(o.at("states").as_array()[0].at("state"), "accepted");
    EXPECT_EQ(o.at("states").as_array()[0].at("documents").to_number<int>(), 1);
    EXPECT_TRUE(o.at("attention").as_array().empty());
    // beta's documents are not in acme's summary.
    ASSERT_EQ(call("POST", docs("beta"), beta_.token, factura(7), {"Prefer: wait=10"}).status, 200);
    EXPECT_EQ(call("GET", "/v1/accounts/acme/summary", acme_.token).json().at("states").as_array().size(),
              1u);

    auto tl = call("GET", docs() + "/1-F001-1/timeline", acme_.token);
    ASSERT_EQ(tl.status, 200) << tl.body;
    const auto timeline = tl.json();
    const auto& events = timeline.at("events").as_array();
    ASSERT_EQ(events.size(), 1u) << tl.body;
    EXPECT_EQ(events[0].at("operation"), "generar_comprobante");
    EXPECT_EQ(events[0].at("http_status").to_number<int>(), 200);
    EXPECT_EQ(events[0].at("outcome"), "ok");
    EXPECT_EQ(call("GET", docs() + "/1-F001-99/timeline", acme_.token).status, 404);

    // Live: a document sent while the stream is open shows up as sending, then accepted.
    event_stream live(port_, "/v1/accounts/acme/events", acme_.token);
    ASSERT_TRUE(live.read_until(": nubefact events")) << live.got;
    EXPECT_NE(live.got.find("Content-Type: text/event-stream"), std::string::npos) << live.got;
    event_stream other(port_, "/v1/accounts/beta/events", beta_.token);
    ASSERT_TRUE(other.read_until(": nubefact events")) << other.got;
    ASSERT_EQ(create(factura(2)).status / 100, 2);
    EXPECT_TRUE(live.read_until(R"("id":"1-F001-2","operation":"generar_comprobante","state":"accepted")"))
        << live.got;
    EXPECT_NE(live.got.find(R"("id":"1-F001-2","operation":"generar_comprobante","state":"sending")"),
              std::string::npos)
        << live.got;
    // Another tenant hears nothing of it; a wrong token gets no stream.
    EXPECT_FALSE(other.read_until("1-F001-2", std::chrono::milliseconds(300))) << other.got;
    event_stream refused(port_, "/v1/accounts/acme/events", "nfk_live_wrong");
    EXPECT_TRUE(refused.read_until("401 Unauthorized")) << refused.got;

    // SIGTERM ends the streams and the drain (which does not wait for them) exits 0.
    serve_->signal(SIGTERM);
    EXPECT_EQ(serve_->wait(std::chrono::seconds(20)), 0) << serve_->err();
}

TEST_F(ServeNative, RefreshConsultsNubefactAndRecordsIt) {
    start_upstream();
    start_serve();
    ASSERT_EQ(create(factura(1), {"Prefer: wait=10"}).status, 200);
    auto r = call("POST", docs() + "/1-F001-1/refresh", acme_.token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(state(r), "accepted");
    EXPECT_EQ(r.json().at("operation"), "generar_comprobante");
    EXPECT_NE(std::string(r.json().at("enlace_del_pdf").as_string()), "");
    EXPECT_EQ(emulator_->requests("consultar_comprobante"), 1);
    EXPECT_EQ(emulator_->requests("generar_comprobante"), 1);  // consulted, never sent again
    const auto tl = call("GET", docs() + "/1-F001-1/timeline", acme_.token).json();
    const auto& events = tl.at("events").as_array();
    ASSERT_EQ(events.size(), 2u) << json::serialize(tl);
    EXPECT_EQ(events[1].at("operation"), "consultar_comprobante");
    EXPECT_EQ(call("POST", docs() + "/1-F001-9/refresh", acme_.token).status, 404);
    EXPECT_EQ(call("GET", docs() + "/1-F001-1/refresh", acme_.token).status, 405);
    EXPECT_EQ(call("POST", docs("beta") + "/1-F001-1/refresh", acme_.token).status, 404);
}

TEST_F(ServeNative, DashboardFilesComeWithTheirPolicy) {
    start_upstream();
    start_serve();
    auto page = http_get_reply(port_, "/dashboard/");
    ASSERT_EQ(page.status, 200);
    EXPECT_NE(page.head.find("Content-Type: text/html"), std::string::npos) << page.head;
    EXPECT_NE(page.head.find("Content-Security-Policy: default-src 'none'; script-src 'self'"),
              std::string::npos)
        << page.head;
    EXPECT_NE(page.body.find("<script src=\"app.js\" defer></script>"), std::string::npos);
    EXPECT_EQ(http_get_reply(port_, "/dashboard").status, 200);
    auto js = http_get_reply(port_, "/dashboard/app.js");
    EXPECT_EQ(js.status, 200);
    EXPECT_NE(js.head.find("Content-Type: text/javascript"), std::string::npos) << js.head;
    EXPECT_EQ(http_get_reply(port_, "/dashboard/app.css").status, 200);
    EXPECT_EQ(http_get_reply(port_, "/dashboard/nope.js").status, 404);
    EXPECT_EQ(http_get_reply(port_, "/dashboard/../metrics").status, 404);
}

}  // namespace
