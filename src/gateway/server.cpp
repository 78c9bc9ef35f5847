// The gateway's network side (include/nubefact/gateway.hpp): Beast HTTP/1.1 on one io thread, the
// engine and one client per account on the same thread, the decisions of decisions.cpp.
#include <nubefact/client.hpp>
#include <nubefact/clock.hpp>
#include <nubefact/gateway.hpp>
#include <nubefact/json.hpp>
#include <nubefact/wire.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json.hpp>

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include "gateway/dashboard_assets.hpp"
#include "net/chunked_guard.hpp"
#include "net/linger.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <list>
#include <set>
#include <thread>
#include <tuple>
#include <variant>

namespace nubefact::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

constexpr auto tok = asio::as_tuple(asio::use_awaitable);

using flight_key = std::tuple<std::string, operation, document_key>;

// One document (or consultation) the engine is working on; requests for it wait on it.
struct flight {
    std::string hash;  // the canonical payload's hash (generar_*); a repeat must match it
    bool done = false;
    bool journaled = false;  // the intent is durable (journal_tap): the native API may answer 202
    engine::outcome result;
    std::chrono::steady_clock::time_point finished;  // when done
    std::vector<asio::steady_timer*> waiters;        // woken (cancelled) when done or journaled
};

// The store's journal, telling the io thread when a document's intent is durable.
class journal_tap final : public intent_journal {
  public:
    using notify = std::function<void(flight_key, std::optional<doc_state>)>;
    journal_tap(intent_journal& inner, notify n) : inner_(inner), notify_(std::move(n)) {}
    std::atomic<int> watched{0};  // event streams open: only then is each state told
    void record(const intent& what, std::function<void(result<record_result>)> done) override {
        inner_.record(what, [this, k = flight_key{what.account, what.op, what.key},
                             done = std::move(done)](result<record_result> r) mutable {
            if (r) notify_(k, std::nullopt);
            if (r && r->claimed && watched.load(std::memory_order_relaxed) > 0)
                notify_(std::move(k), r->record.state);
            done(std::move(r));
        });
    }
    void update(const std::string& account, const document_key& key, const state_update& u,
                std::function<void(result<void>)> done) override {
        if (watched.load(std::memory_order_relaxed) == 0)
            return inner_.update(account, key, u, std::move(done));
        inner_.update(account, key, u,
                      [this, k = flight_key{account, u.op.value_or(operation::generar_comprobante), key},
                       state = u.state, done = std::move(done)](result<void> r) mutable {
                          if (r) notify_(std::move(k), state);
                          done(std::move(r));
                      });
    }
    void find(const std::string& account, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override {
        inner_.find(account, key, std::move(done));
    }
    void find(const std::string& account, operation op, const document_key& key,
              std::function<void(result<std::optional<intent_record>>)> done) override {
        inner_.find(account, op, key, std::move(done));
    }

  private:
    intent_journal& inner_;
    notify notify_;
};

// What a handler answers besides the status and body.
struct reply {
    answer a;
    bool close = false;
    std::optional<std::string> events_of;  // GET …/events admitted: stream this account's events
    std::string document;                  // for the log line
};

reply text_reply(int status, std::string body) {
    reply r;
    r.a.status = status;
    r.a.body = std::move(body);
    r.a.content_type = "text/plain; charset=utf-8";
    return r;
}

}  // namespace

struct server::impl {
    impl(store::store& d, options opt)
        : db(d), o(std::move(opt)), tap(d.journal(), [this](flight_key k, std::optional<doc_state> st) {
              asio::post(ioc, [this, k = std::move(k), st] {
                  if (st)
                      publish(k, *st);
                  else
                      journaled(k);
              });
          }) {
        o.prepare.max_document_bytes = o.limit.max_body;
    }

    store::store& db;
    options o;
    asio::io_context ioc{1};  // one thread: connections, engine and clients need no strand
    journal_tap tap;
    tcp::acceptor acceptor{ioc};
    std::thread thread;
    std::uint16_t port = 0;
    std::atomic<bool> running{false}, draining{false}, stop_flag{false};
    std::atomic<std::int64_t> in_progress{0}, deliveries{0};
    std::mutex life_mu;
    std::mutex drain_mu;
    std::condition_variable drain_cv;
    gateway::metrics m;
    // io thread only:
    struct account_client {
        std::unique_ptr<client> c;
        std::chrono::system_clock::time_point updated_at;  // of the account it was made from
    };
    std::map<std::string, account_client, std::less<>> clients;
    std::vector<std::unique_ptr<client>> retired;  // replaced after an account change; may still deliver
    std::map<flight_key, std::shared_ptr<flight>> flights;
    std::set<beast::tcp_stream*> streams;

    void settled() {
        std::lock_guard lk(drain_mu);
        drain_cv.notify_all();
    }

    // The client of `account`, made on first use; or the answer that says why there is none.
    // The store's account cache is revalidated every few seconds: a disabled account, a rotated token
    // or new limits take effect without a restart (the replaced client finishes what it has).
    std::variant<client*, answer> client_for(const std::string& account) {
        auto a = db.find_account(account);
        if (!a) {
            spdlog::error("gateway: cannot read account '{}': {}", account, a.error().message());
            return transient_answer("el gateway no puede leer su cuenta de Nubefact");
        }
        if (!*a) {
            spdlog::error("gateway: a key names account '{}', which the store does not have", account);
            return transient_answer("la clave del gateway apunta a una cuenta que no existe");
        }
        if (!(*a)->enabled) return error_answer(api_errc::account_suspended);
        auto it = clients.find(account);
        if (it != clients.end() && it->second.updated_at == (*a)->updated_at) return it->second.c.get();
        auto cfg = (*a)->config;
        cfg.validate = false;  // prepare() checked the document already
        client_options co;
        co.journal = std::shared_ptr<intent_journal>(std::shared_ptr<void>{}, &tap);
        co.audit = std::shared_ptr<audit_sink>(std::shared_ptr<void>{}, &db.audit());
        try {
            auto c = std::make_unique<client>(ioc.get_executor(), cfg, std::move(co));
            auto* p = c.get();
            if (it != clients.end()) {
                retired.push_back(std::move(it->second.c));
                it->second = {std::move(c), (*a)->updated_at};
            } else {
                clients.emplace(account, account_client{std::move(c), (*a)->updated_at});
            }
            return p;
        } catch (const std::exception& e) {
            spdlog::error("gateway: account '{}' cannot be used: {}", account, e.what());
            return transient_answer("la cuenta de Nubefact del gateway está mal configurada");
        }
    }

    // Final answers kept for repeats: at most max_kept, for at most keep_for.
    static constexpr std::size_t max_kept = 10'000;
    static constexpr std::chrono::minutes keep_for{15};
    std::size_t kept = 0;

    std::chrono::steady_clock::time_point pruned{};

    // At most once a second: one pass over the map.
    void prune_flights() {
        const auto now = std::chrono::steady_clock::now();
        if (now - pruned < std::chrono::seconds(1)) return;
        pruned = now;
        kept = 0;
        for (auto it = flights.begin(); it != flights.end();) {
            if (it->second->done && now - it->second->finished > keep_for) {
                it = flights.erase(it);
                continue;
            }
            kept += it->second->done ? 1 : 0;
            ++it;
        }
        if (kept <= max_kept) return;
        std::vector<std::pair<std::chrono::steady_clock::time_point, flight_key>> done;
        for (const auto& [k, f] : flights)
            if (f->done) done.emplace_back(f->finished, k);
        std::sort(done.begin(), done.end());
        for (std::size_t i = 0; i + max_kept < done.size(); ++i) flights.erase(done[i].second);
    }

    // Starts the engine on `doc` (a delivery, or a consultation for a consultar_*) unless it is
    // under way already; the flight to wait on, or the answer when the number is in flight with
    // other content.
    std::variant<std::shared_ptr<flight>, answer> join_or_start(client& api, const std::string& account,
                                                                engine::prepared doc) {
        const bool generar = is_generar(doc.op);
        flight_key k{account, doc.op, doc.key};
        const std::string hash = generar ? payload_hash(doc.body) : std::string();
        prune_flights();
        if (auto it = flights.find(k); it != flights.end()) {
            if (it->second->hash != hash) return error_answer(api_errc::already_exists);
            return it->second;
        }
        auto f = std::make_shared<flight>();
        f->hash = hash;
        flights.emplace(k, f);
        ++deliveries;
        auto run = [this, &api, f, k, doc = std::move(doc), generar]() mutable -> asio::awaitable<void> {
            try {
                engine::deliver_options d;
                if (generar) {
                    auto task = engine::deliver(api, std::move(doc), d, &stop_flag);
                    f->result = co_await std::move(task);
                } else {
                    auto task = engine::consult(api, generar_for(doc.op), doc.key, d, &stop_flag);
                    f->result = co_await std::move(task);
                    f->result.op = doc.op;
                }
            } catch (const std::exception& e) {
                spdlog::error("gateway: delivery of {} failed: {}", doc.key.to_string(), e.what());
                f->result = engine::outcome{};
                f->result.code = make_error_code(client_errc::transport);
            }
            f->done = true;
            f->finished = std::chrono::steady_clock::now();
            for (auto* t : f->waiters) t->cancel();
            // A final answer stays for repeats, whole (the journal keeps the fields a receipt needs,
            // QR and hash included, not the rest: codigo_de_barras, the zips); anything else is
            // delivered again on a repeat.
            const bool keep = f->result.is(doc_state::accepted) || f->result.is(doc_state::rejected);
            if (auto it = flights.find(k); it != flights.end() && it->second == f && !(keep && generar))
                flights.erase(it);
            --deliveries;
            settled();
        };
        asio::co_spawn(ioc, std::move(run), asio::detached);
        return f;
    }

    // Followers of an account's events (GET …/events), io thread only.
    struct subscriber {
        std::string account;
        std::deque<std::string> events;
        bool overflow = false;  // events were dropped: the follower reloads everything
        asio::steady_timer* wake = nullptr;
    };
    std::list<subscriber*> subscribers;

    // io thread: a state of `k` committed.
    void publish(const flight_key& k, doc_state st) {
        const auto& [account, op, key] = k;
        std::string ev = "event: document\ndata: {\"id\":";
        json::append_string(ev, document_id(key));
        ev += ",\"operation\":\"";
        ev += to_string(op);
        ev += "\",\"state\":\"";
        ev += to_string(st);
        ev += "\"}\n\n";
        for (auto* sub : subscribers) {
            if (sub->account != account) continue;
            if (sub->events.size() >= 256) {
                sub->events.clear();
                sub->overflow = true;
            } else {
                sub->events.push_back(ev);
            }
            if (sub->wake) sub->wake->cancel();
        }
    }

    void wake_subscribers() {
        for (auto* sub : subscribers)
            if (sub->wake) sub->wake->cancel();
    }

    // GET …/events after its admission: Server-Sent Events until the client goes, the gateway drains
    // or stops. A comment every 15 s keeps proxies from closing it (and finds a client gone).
    asio::awaitable<void> stream_events(beast::tcp_stream& stream, std::string account) {
        subscriber sub{std::move(account)};
        subscribers.push_back(&sub);
        ++tap.watched;
        struct leave {
            impl& s;
            subscriber* p;
            ~leave() {
                s.subscribers.remove(p);
                --s.tap.watched;
            }
        } guard{*this, &sub};
        std::string out =
            "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: nubefact events\n\n";
        asio::steady_timer t(ioc);
        for (;;) {
            stream.expires_after(o.limit.write_timeout);
            auto [ec, n] = co_await asio::async_write(stream, asio::buffer(out), tok);
            (void)n;
            if (ec || draining || stop_flag) break;
            out.clear();
            if (sub.events.empty() && !sub.overflow) {
                t.expires_after(std::chrono::seconds(15));
                sub.wake = &t;
                co_await t.async_wait(tok);
                sub.wake = nullptr;
            }
            if (sub.overflow) out = "event: resync\ndata: {}\n\n";
            sub.overflow = false;
            for (auto& e : sub.events) out += e;
            sub.events.clear();
            if (out.empty()) out = ": ping\n\n";
        }
        beast::error_code ignore;
        stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
    }

    // io thread: the intent of the document `k` names is durable.
    void journaled(const flight_key& k) {
        auto it = flights.find(k);
        if (it == flights.end() || it->second->journaled) return;
        it->second->journaled = true;
        for (auto* t : it->second->waiters) t->cancel();
    }

    // Waits until `ready(*f)` or `deadline`.
    template <class Ready>
    asio::awaitable<void> wait_until(std::shared_ptr<flight> f,
                                     std::chrono::steady_clock::time_point deadline, Ready ready) {
        asio::steady_timer t(ioc);
        while (!ready(*f) && std::chrono::steady_clock::now() < deadline) {
            t.expires_at(deadline);
            f->waiters.push_back(&t);
            co_await t.async_wait(tok);
            std::erase(f->waiters, &t);
        }
    }

    // Waits up to upstream_wait for `f`; its answer, or the transient one.
    asio::awaitable<answer> wait_for(std::shared_ptr<flight> f) {
        co_await wait_until(f, std::chrono::steady_clock::now() + o.upstream_wait,
                            [](const flight& x) { return x.done; });
        if (f->done) co_return answer_for(f->result);
        co_return transient_answer(
            "la respuesta de Nubefact aún no llega; el documento quedó en cola: reintente la misma solicitud "
            "para obtener la respuesta final");
    }

    asio::awaitable<reply> dropin(const route& rt, const http::request<http::string_body>& req) {
        reply r;
        if (draining) {
            r.a = transient_answer("el gateway se está deteniendo; reintente en unos segundos");
            r.a.status = 503;
            r.close = true;
            co_return r;
        }
        auto key = db.find_api_key(rt.ruta);
        if (!key) {
            spdlog::error("gateway: cannot read the API keys: {}", key.error().message());
            r.a = transient_answer("el gateway no puede leer sus claves");
            co_return r;
        }
        request_head head;
        head.method = std::string_view(req.method_string().data(), req.method_string().size());
        if (auto h = req.find(http::field::authorization); h != req.end())
            head.authorization = std::string_view(h->value().data(), h->value().size());
        if (auto h = req.find(http::field::content_type); h != req.end())
            head.content_type = std::string_view(h->value().data(), h->value().size());
        head.body_size = req.body().size();
        if (auto refused = admit(head, *key)) {
            r.a = std::move(*refused);
            co_return r;
        }
        const auto& account = (*key)->account;
        auto api = client_for(account);
        if (auto* a = std::get_if<answer>(&api)) {
            r.a = std::move(*a);
            co_return r;
        }
        auto p = engine::prepare(engine::input{"gateway", 0, req.body(), std::nullopt}, o.prepare);
        if (auto* bad = std::get_if<engine::outcome>(&p)) {
            if (bad->key) r.document = bad->key->to_string();
            r.a = answer_for(*bad);
            co_return r;
        }
        auto& doc = std::get<engine::prepared>(p);
        r.document = std::string(to_string(doc.op)) + " " + doc.key.to_string();
        auto started = join_or_start(*std::get<client*>(api), account, std::move(doc));
        if (auto* a = std::get_if<answer>(&started)) {
            r.a = std::move(*a);
            co_return r;
        }
        auto wait = wait_for(std::get<std::shared_ptr<flight>>(started));
        r.a = co_await std::move(wait);
        co_return r;
    }

    // ---- native API (/v1) ----

    static std::string_view header(const http::request<http::string_body>& req, http::field f) {
        auto h = req.find(f);
        return h == req.end() ? std::string_view{} : std::string_view(h->value().data(), h->value().size());
    }
    static std::string_view header(const http::request<http::string_body>& req, std::string_view name) {
        auto h = req.find(beast::string_view(name.data(), name.size()));
        return h == req.end() ? std::string_view{} : std::string_view(h->value().data(), h->value().size());
    }

    static answer unavailable(std::string_view detail) {
        auto a = problem(503, "Service Unavailable", detail);
        a.retry_later = true;
        return a;
    }

    // The stored row of `k` (its emit family), or nullopt; an answer when the store fails.
    std::variant<std::optional<intent_record>, answer> stored_document(std::string_view account,
                                                                       const document_key& k) {
        store::document_query q;
        q.account = std::string(account);
        q.tipo = k.tipo;
        q.serie = k.serie;
        q.numero = k.numero;
        q.limit = 10;
        auto rows = db.find_documents(q);
        if (!rows) {
            spdlog::error("gateway: cannot read documents: {}", rows.error().message());
            return unavailable("the gateway cannot read its store; try again");
        }
        for (auto& d : *rows)
            if (!is_void_operation(d.what.op)) return std::optional<intent_record>(std::move(d));
        return std::optional<intent_record>{};
    }

    // The document's JSON with its ETag; `located`: and its Location (the answers to a POST).
    static answer resource_answer(int status, const intent_record& d, bool located) {
        answer a;
        a.status = status;
        a.body = document_resource(d);
        if (located) a.headers.emplace_back("Location", document_path(d.what.account, d.what.key));
        a.headers.emplace_back("ETag", "\"" + payload_hash(a.body).substr(0, 32) + "\"");
        return a;
    }

    // POST …/documents: `logged` gets the document for the log line.
    asio::awaitable<answer> create_document(const store::api_key& key,
                                            const http::request<http::string_body>& req,
                                            std::string& logged) {
        const auto& account = key.account;
        if (!wire::json_content_type(header(req, http::field::content_type)))
            co_return problem(415, "Unsupported Media Type", "send the document as application/json");
        if (req.body().empty()) co_return problem(400, "Bad Request", "the body is empty: send one document");
        auto api = client_for(account);
        if (auto* a = std::get_if<answer>(&api))
            co_return a->status == 500 ? unavailable("the account cannot be used now; try again later")
                                       : problem(403, "Forbidden", "the account is suspended");
        auto p = engine::prepare(engine::input{"gateway", 0, req.body(), std::nullopt}, o.prepare);
        if (auto* bad = std::get_if<engine::outcome>(&p)) {
            const bool unreadable = std::any_of(bad->findings.begin(), bad->findings.end(),
                                                [](const finding& f) { return f.code == "parse"; });
            if (unreadable) co_return problem(400, "Bad Request", "the body is not JSON", bad->findings);
            co_return problem(422, "Unprocessable Content",
                              "the document has errors: each is in `errors` with its path and expected value",
                              bad->findings);
        }
        auto& doc = std::get<engine::prepared>(p);
        logged = std::string(to_string(doc.op)) + " " + doc.key.to_string();
        if (!is_generar(doc.op) || is_void_operation(doc.op))
            co_return problem(
                422, "Unprocessable Content",
                fmt::format("this endpoint creates documents; '{}' is not one", to_string(doc.op)));
        const auto dkey = doc.key;
        auto started = join_or_start(*std::get<client*>(api), account, std::move(doc));
        if (std::holds_alternative<answer>(started))
            co_return problem(409, "Conflict", "this number holds a document with other content");
        auto f = std::get<std::shared_ptr<flight>>(started);
        const auto now = std::chrono::steady_clock::now();
        const auto cap = std::chrono::duration_cast<std::chrono::seconds>(o.upstream_wait);
        const auto wait = prefer_wait(header(req, "Prefer"), cap);
        if (wait) co_await wait_until(f, now + *wait, [](const flight& x) { return x.done; });
        // Without a wait (or past it): as soon as the intent is durable.
        co_await wait_until(f, std::chrono::steady_clock::now() + std::chrono::seconds(10),
                            [](const flight& x) { return x.done || x.journaled; });
        auto stored = stored_document(account, dkey);
        if (auto* a = std::get_if<answer>(&stored)) co_return std::move(*a);
        auto& row = std::get<std::optional<intent_record>>(stored);
        intent_record d;
        if (row) d = std::move(*row);
        d.what.account = account;
        d.what.key = dkey;
        answer a;
        if (f->done) {
            const auto& r = f->result;
            if (r.code == client_errc::payload_changed || r.code == client_errc::conflict ||
                r.is(doc_state::conflict))
                co_return problem(409, "Conflict", "this number holds a document with other content");
            if (!std::holds_alternative<doc_state>(r.state))
                co_return unavailable(r.error.empty() ? "the document was not sent; try again" : r.error);
            a = resource_answer(200, settled_record(std::move(d), r), true);
        } else if (f->journaled || row) {
            if (!row) d.state = doc_state::sending;
            a = resource_answer(202, d, true);
        } else {
            co_return unavailable("the store did not confirm the document in time; repeat the request");
        }
        if (wait) a.headers.emplace_back("Preference-Applied", fmt::format("wait={}", wait->count()));
        co_return a;
    }

    // POST with an Idempotency-Key: the stored answer for a repeat, else create_document's, kept.
    asio::awaitable<answer> create_idempotent(const store::api_key& key, std::string_view idem,
                                              const http::request<http::string_body>& req,
                                              std::string& logged) {
        if (!valid_idempotency_key(idem))
            co_return problem(400, "Bad Request", "Idempotency-Key: 1 to 255 visible ASCII characters");
        const auto fp = request_fingerprint(
            "POST", std::string_view(req.target().data(), req.target().size()), req.body());
        auto held = db.begin_idempotent(key.ruta, idem, fp, idempotency_keep, idempotency_abandoned);
        if (!held) {
            spdlog::error("gateway: cannot read the idempotency keys: {}", held.error().message());
            co_return unavailable("the gateway cannot read its store; try again");
        }
        if (*held) {
            const auto& h = **held;
            if (h.request_hash != fp)
                co_return problem(422, "Unprocessable Content",
                                  "this Idempotency-Key was used with another request");
            if (h.status == 0) {
                auto a = problem(409, "Conflict", "a request with this Idempotency-Key is being answered");
                a.retry_later = true;
                co_return a;
            }
            answer a;
            a.status = h.status;
            a.body = h.body;
            if (h.status >= 400) a.content_type = "application/problem+json";  // every native error is one
            if (!h.location.empty()) a.headers.emplace_back("Location", h.location);
            a.headers.emplace_back("Idempotent-Replayed", "true");
            co_return a;
        }
        auto task = create_document(key, req, logged);
        auto a = co_await std::move(task);
        if (a.status >= 500) {
            if (auto r = db.drop_idempotent(key.ruta, idem); !r)
                spdlog::warn("gateway: cannot drop an idempotency key: {}", r.error().message());
        } else {
            std::string location;
            for (const auto& [n, v] : a.headers)
                if (n == "Location") location = v;
            if (auto r = db.finish_idempotent(key.ruta, idem, a.status, location, a.body); !r)
                spdlog::warn("gateway: cannot keep an idempotency key's answer: {}", r.error().message());
        }
        co_return a;
    }

    answer get_document(std::string_view account, std::string_view id,
                        const http::request<http::string_body>& req) {
        auto k = parse_document_id(id);
        if (!k) return problem(404, "Not Found", "a document id is TIPO-SERIE-NUMERO, e.g. 1-F001-123");
        auto stored = stored_document(account, *k);
        if (auto* a = std::get_if<answer>(&stored)) return std::move(*a);
        auto& row = std::get<std::optional<intent_record>>(stored);
        if (!row) return problem(404, "Not Found", "the account has no such document");
        auto a = resource_answer(200, *row, false);
        for (const auto& [n, v] : a.headers)
            if (n == "ETag" && header(req, http::field::if_none_match) == v) {
                a.status = 304;
                a.body.clear();
            }
        return a;
    }

    // GET …/documents?state=&serie=&limit= (newest first; limit 1..500, default 50).
    answer list_documents(std::string_view account, std::string_view target) {
        store::document_query q;
        q.account = std::string(account);
        q.limit = 50;
        const auto qm = target.find('?');
        std::string_view query = qm == std::string_view::npos ? std::string_view{} : target.substr(qm + 1);
        while (!query.empty()) {
            const auto amp = query.find('&');
            const auto item = query.substr(0, amp);
            query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
            const auto eq = item.find('=');
            const auto name = item.substr(0, eq);
            const auto value = eq == std::string_view::npos ? std::string_view{} : item.substr(eq + 1);
            if (name == "state") {
                auto st = doc_state_from_string(value);
                if (!st) return problem(400, "Bad Request", fmt::format("no state '{}'", value));
                q.state = *st;
            } else if (name == "serie") {
                q.serie = std::string(value);
            } else if (name == "limit") {
                std::size_t n = 0;
                auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
                if (ec != std::errc() || p != value.data() + value.size() || n == 0 || n > 500)
                    return problem(400, "Bad Request", "limit: 1 to 500");
                q.limit = n;
            } else if (!name.empty()) {
                return problem(400, "Bad Request", "filters: state, serie, limit");
            }
        }
        auto rows = db.find_documents(q);
        if (!rows) return unavailable("the gateway cannot read its store; try again");
        answer a;
        a.body = "{\"documents\":[";
        bool first = true;
        for (const auto& d : *rows) {
            if (is_void_operation(d.what.op)) continue;
            if (!first) a.body += ',';
            first = false;
            a.body += document_resource(d);
        }
        a.body += "]}";
        return a;
    }

    // POST …/documents/{id}/refresh: what Nubefact says of the document now (a consultation, recorded
    // in the store), within `Prefer: wait` (default and cap: upstream_wait); 202 when it is late.
    asio::awaitable<answer> refresh(const store::api_key& key, std::string_view id,
                                    const http::request<http::string_body>& req, std::string& logged) {
        auto k = parse_document_id(id);
        if (!k) co_return problem(404, "Not Found", "a document id is TIPO-SERIE-NUMERO, e.g. 1-F001-123");
        auto stored = stored_document(key.account, *k);
        if (auto* a = std::get_if<answer>(&stored)) co_return std::move(*a);
        auto& row = std::get<std::optional<intent_record>>(stored);
        if (!row) co_return problem(404, "Not Found", "the account has no such document");
        if (draining) co_return unavailable("the gateway is stopping; try again in a few seconds");
        auto api = client_for(key.account);
        if (auto* a = std::get_if<answer>(&api))
            co_return a->status == 500 ? unavailable("the account cannot be used now; try again later")
                                       : problem(403, "Forbidden", "the account is suspended");
        engine::prepared doc;
        doc.source = "gateway";
        doc.op = consult_for(row->what.op);
        doc.key = *k;
        logged = std::string(to_string(doc.op)) + " " + k->to_string();
        auto started = join_or_start(*std::get<client*>(api), key.account, std::move(doc));
        if (std::holds_alternative<answer>(started))
            co_return unavailable("a consultation is under way; try again");
        auto f = std::get<std::shared_ptr<flight>>(started);
        const auto cap = std::chrono::duration_cast<std::chrono::seconds>(o.upstream_wait);
        const auto wait = prefer_wait(header(req, "Prefer"), cap).value_or(cap);
        co_await wait_until(f, std::chrono::steady_clock::now() + wait,
                            [](const flight& x) { return x.done; });
        if (!f->done) co_return resource_answer(202, *row, true);
        const auto& r = f->result;
        if (!std::holds_alternative<doc_state>(r.state) || (r.code && !r.body))
            co_return unavailable(r.error.empty() ? "Nubefact did not answer; try again" : r.error);
        auto settled = settled_record(std::move(*row), r);
        settled.what.op = generar_for(settled.what.op);  // the document, not the consultation
        co_return resource_answer(200, settled, true);
    }

    // GET …/documents/{id}/timeline: the document's exchanges with Nubefact, oldest first.
    answer timeline(std::string_view account, std::string_view id) {
        auto k = parse_document_id(id);
        if (!k) return problem(404, "Not Found", "a document id is TIPO-SERIE-NUMERO, e.g. 1-F001-123");
        auto stored = stored_document(account, *k);
        if (auto* a = std::get_if<answer>(&stored)) return std::move(*a);
        if (!std::get<std::optional<intent_record>>(stored))
            return problem(404, "Not Found", "the account has no such document");
        store::log_query q;
        q.account = std::string(account);
        q.document = k->to_string();
        q.limit = 500;
        auto rows = db.query_log(q);
        if (!rows) return unavailable("the gateway cannot read its store; try again");
        namespace js = boost::json;
        js::array events;
        for (auto it = rows->rbegin(); it != rows->rend(); ++it) {
            const auto& e = it->record;
            events.push_back(js::object{
                {"at", utc_timestamp(e.at)},
                {"operation", e.operation},
                {"attempt", e.attempt},
                {"http_status", e.http_status},
                {"codigo", e.codigo ? js::value(*e.codigo) : js::value(nullptr)},
                {"outcome", e.outcome},
                {"latency_ms", static_cast<double>(e.latency.count()) / 1000.0},
            });
        }
        answer a;
        a.body = js::serialize(js::object{{"id", document_id(*k)}, {"events", std::move(events)}});
        return a;
    }

    // GET …/summary: documents per state (with the oldest's last change) and what needs a person.
    answer summary(std::string_view account) {
        auto counts = db.count_documents();
        if (!counts) return unavailable("the gateway cannot read its store; try again");
        namespace js = boost::json;
        js::array states;
        for (const auto& c : *counts) {
            if (c.account != account) continue;
            states.push_back(js::object{{"state", to_string(c.state)},
                                        {"documents", c.documents},
                                        {"oldest", utc_timestamp(c.oldest)}});
        }
        std::string attention;
        for (auto st : {doc_state::unknown, doc_state::conflict, doc_state::refused, doc_state::failed}) {
            store::document_query q;
            q.account = std::string(account);
            q.state = st;
            q.limit = 20;
            auto rows = db.find_documents(q);
            if (!rows) return unavailable("the gateway cannot read its store; try again");
            for (const auto& d : *rows) {
                if (!attention.empty()) attention += ',';
                attention += document_resource(d);
            }
        }
        answer a;
        a.body = js::serialize(js::object{{"account", account}, {"states", std::move(states)}});
        a.body.pop_back();  // the object's '}': the attention list goes in as it is
        a.body += ",\"attention\":[" + attention + "]}";
        return a;
    }

    asio::awaitable<reply> native(const route& rt, const http::request<http::string_body>& req) {
        reply r;
        const std::string_view method(req.method_string().data(), req.method_string().size());
        auto token = bearer_token(header(req, http::field::authorization));
        std::optional<store::api_key> key;
        if (token) {
            auto found = db.find_api_key_by_token_hash(payload_hash(*token));
            if (!found) {
                spdlog::error("gateway: cannot read the API keys: {}", found.error().message());
                r.a = unavailable("the gateway cannot read its keys; try again");
                co_return r;
            }
            key = std::move(*found);
        }
        if (!key || key->revoked_at) {
            r.a = problem(401, "Unauthorized", "send Authorization: Bearer with the API key's token");
            r.a.headers.emplace_back("WWW-Authenticate", "Bearer");
            co_return r;
        }
        // Another tenant's account does not exist, as far as this key can tell.
        if (key->account != rt.account) {
            r.a = problem(404, "Not Found", "this key has no such account");
            co_return r;
        }
        if (rt.kind == route_kind::document) {
            r.a = get_document(rt.account, rt.id, req);
            co_return r;
        }
        if (rt.kind == route_kind::timeline) {
            r.a = timeline(rt.account, rt.id);
            co_return r;
        }
        if (rt.kind == route_kind::summary) {
            r.a = summary(rt.account);
            co_return r;
        }
        if (rt.kind == route_kind::refresh) {
            auto task = refresh(*key, rt.id, req, r.document);
            r.a = co_await std::move(task);
            co_return r;
        }
        if (rt.kind == route_kind::events) {
            if (draining) {
                r.a = unavailable("the gateway is stopping; try again in a few seconds");
                r.close = true;
            } else {
                r.events_of = std::string(rt.account);
            }
            co_return r;
        }
        if (method != "POST") {
            r.a = list_documents(rt.account, std::string_view(req.target().data(), req.target().size()));
            co_return r;
        }
        if (draining) {
            r.a = unavailable("the gateway is stopping; try again in a few seconds");
            r.close = true;
            co_return r;
        }
        if (auto idem = header(req, "Idempotency-Key"); !idem.empty()) {
            auto task = create_idempotent(*key, idem, req, r.document);
            r.a = co_await std::move(task);
        } else {
            auto task = create_document(*key, req, r.document);
            r.a = co_await std::move(task);
        }
        co_return r;
    }

    asio::awaitable<reply> handle(const http::request<http::string_body>& req) {
        const std::string_view method(req.method_string().data(), req.method_string().size());
        const std::string_view target(req.target().data(), req.target().size());
        auto rt = match_route(method, target);
        if (rt.kind == route_kind::dropin) {
            auto task = dropin(rt, req);
            co_return co_await std::move(task);
        }
        const bool native_api = rt.kind == route_kind::documents || rt.kind == route_kind::document ||
                                rt.kind == route_kind::timeline || rt.kind == route_kind::refresh ||
                                rt.kind == route_kind::summary || rt.kind == route_kind::events;
        if (native_api && rt.method_allowed) {
            auto task = native(rt, req);
            co_return co_await std::move(task);
        }
        if (native_api) {
            reply r;
            r.a = problem(405, "Method Not Allowed",
                          rt.kind == route_kind::documents ? "use POST or GET"
                          : rt.kind == route_kind::refresh ? "use POST"
                                                           : "use GET");
            const char* allow = rt.kind == route_kind::documents ? "GET, HEAD, POST"
                                : rt.kind == route_kind::events  ? "GET"
                                : rt.kind == route_kind::refresh ? "POST"
                                                                 : "GET, HEAD";
            r.a.headers.emplace_back("Allow", allow);
            co_return r;
        }
        if (rt.kind == route_kind::dashboard) {
            if (!rt.method_allowed) co_return text_reply(405, "use GET\n");
            const auto* f = dashboard::find(rt.id);
            if (!f) co_return text_reply(404, "no such file\n");
            reply r;
            r.a.body = std::string(f->bytes);
            r.a.content_type = std::string(f->content_type);
            // The page and its files come from here only; data from the same origin's API.
            r.a.headers = {
                {"Content-Security-Policy",
                 "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                 "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
                {"X-Content-Type-Options", "nosniff"},
                {"Referrer-Policy", "no-referrer"},
                {"Cache-Control", "no-cache"}};
            co_return r;
        }
        if (rt.kind == route_kind::unknown) {
            reply r;
            r.a = error_answer(api_errc::ruta_invalid);
            r.a.status = 404;
            co_return r;
        }
        if (!rt.method_allowed) co_return text_reply(405, "use GET\n");
        if (rt.kind == route_kind::livez) co_return text_reply(200, "ok\n");
        if (rt.kind == route_kind::readyz)
            co_return draining ? text_reply(503, "draining\n") : text_reply(200, "ready\n");
        auto docs = db.count_documents();
        if (!docs) spdlog::warn("gateway: /metrics without document counts: {}", docs.error().message());
        auto r = text_reply(200, m.prometheus(docs ? *docs : std::vector<store::store::state_count>{},
                                              in_progress.load(), deliveries.load(), draining.load()));
        r.a.content_type = "text/plain; version=0.0.4; charset=utf-8";
        co_return r;
    }

    static std::string too_large_text(int status, const limits& l) {
        return status == 413 ? fmt::format("el cuerpo excede el límite de {} bytes", l.max_body)
                             : fmt::format("las cabeceras exceden el límite de {} bytes", l.max_header);
    }

    // http::async_read, with the chunked-body guard (net/chunked_guard.hpp) Beast's own loop lacks:
    // empty on a whole request, else the parser's error, end_of_stream (closed before a byte),
    // timeout or the socket's.
    static asio::awaitable<beast::error_code> read_request(beast::tcp_stream& stream, beast::flat_buffer& buf,
                                                           http::request_parser<http::string_body>& parser) {
        parser.eager(true);
        for (;;) {
            if (buf.size() > 0 && !net::wait_for_chunk_bytes(parser, buf.size())) {
                beast::error_code ec;
                const std::size_t used = parser.put(buf.data(), ec);
                buf.consume(used);
                if (ec && ec != http::error::need_more) co_return ec;
                if (parser.is_done()) co_return beast::error_code{};
                if (!ec && used > 0) continue;
            }
            auto [rec, n] = co_await stream.async_read_some(buf.prepare(4096), tok);
            buf.commit(n);
            if (rec == asio::error::eof && n == 0) {
                if (!parser.got_some()) co_return http::error::end_of_stream;
                beast::error_code ec;
                parser.put_eof(ec);
                if (!ec && !parser.is_done()) ec = http::error::partial_message;
                co_return ec;
            }
            if (rec && n == 0) co_return rec;
        }
    }

    // The answer is written: FIN after it, then drop what the client still sends (net/linger.hpp).
    static asio::awaitable<void> linger_close(beast::tcp_stream& stream) {
        beast::error_code ignore;
        stream.socket().shutdown(tcp::socket::shutdown_send, ignore);
        stream.expires_after(net::linger.time);
        std::array<char, 4096> scratch;
        for (std::size_t dropped = 0; dropped < net::linger.bytes;) {
            auto [ec, n] = co_await stream.async_read_some(asio::buffer(scratch), tok);
            if (ec) break;
            dropped += n;
        }
        stream.socket().close(ignore);
    }

    asio::awaitable<void> session(tcp::socket sock) {
        beast::tcp_stream stream(std::move(sock));
        streams.insert(&stream);
        struct untrack {
            impl& s;
            beast::tcp_stream* p;
            ~untrack() { s.streams.erase(p); }
        } guard{*this, &stream};
        beast::flat_buffer buf;
        for (;;) {
            if (buf.size() == 0) {
                // Idle until the next request's first byte; from there the whole request has read_timeout.
                stream.expires_after(o.limit.idle_timeout);
                auto [ec, n] = co_await stream.async_read_some(buf.prepare(4096), tok);
                if (ec) co_return;
                buf.commit(n);
            }
            http::request_parser<http::string_body> parser;
            parser.header_limit(static_cast<std::uint32_t>(o.limit.max_header));
            parser.body_limit(o.limit.max_body);
            stream.expires_after(o.limit.read_timeout);
            const auto ec = co_await read_request(stream, buf, parser);
            const auto t0 = std::chrono::steady_clock::now();
            if (ec == beast::error::timeout || ec == http::error::end_of_stream || ec == asio::error::eof ||
                ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
                co_return;
            reply r;
            std::string label = "other";
            bool keep_alive = false;
            unsigned version = 11;
            // Counted until the answer is written, however this iteration ends (drain waits on it).
            struct progress {
                impl& s;
                explicit progress(impl& x) : s(x) { ++s.in_progress; }
                ~progress() {
                    --s.in_progress;
                    s.settled();
                }
            };
            std::optional<progress> counted(std::in_place, *this);
            if (ec) {
                const int status = status_for_read_error(ec);
                r.a = error_answer(api_errc::bad_format, status == 400 ? "solicitud HTTP inválida"
                                                                       : too_large_text(status, o.limit));
                r.a.status = status;
                r.close = true;
                if (parser.is_header_done())
                    label = match_route(
                                std::string_view(parser.get().method_string().data(),
                                                 parser.get().method_string().size()),
                                std::string_view(parser.get().target().data(), parser.get().target().size()))
                                .label;
            } else {
                const auto& req = parser.get();
                label = match_route(std::string_view(req.method_string().data(), req.method_string().size()),
                                    std::string_view(req.target().data(), req.target().size()))
                            .label;
                keep_alive = req.keep_alive();
                version = req.version();
                auto task = handle(req);
                r = co_await std::move(task);
                if (r.events_of) {
                    m.observe(label, 200, std::chrono::microseconds(0));
                    counted.reset();  // a stream is not a request in progress (drain does not wait for it)
                    co_await stream_events(stream, std::move(*r.events_of));
                    co_return;
                }
            }
            keep_alive = keep_alive && !r.close && !draining;
            http::response<http::string_body> res{static_cast<http::status>(r.a.status), version};
            res.set(http::field::content_type, r.a.content_type);
            for (const auto& [name, value] : r.a.headers) res.set(name, value);
            if (r.a.retry_later || r.a.status == 503) res.set(http::field::retry_after, "1");
            res.keep_alive(keep_alive);
            res.body() = std::move(r.a.body);
            res.prepare_payload();
            if (!ec && parser.get().method() == http::verb::head) res.body().clear();  // Content-Length stays
            const auto latency =
                std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0);
            m.observe(label, r.a.status, latency);
            spdlog::info("{} {} {} {:.1f}ms{}{}", ec ? "-" : std::string(parser.get().method_string()), label,
                         r.a.status, static_cast<double>(latency.count()) / 1000.0,
                         r.document.empty() ? "" : " ", r.document);
            stream.expires_after(o.limit.write_timeout);
            auto [wec, wn] = co_await http::async_write(stream, res, tok);
            (void)wn;
            counted.reset();
            if (wec || !keep_alive) {
                if (!wec) co_await linger_close(stream);
                co_return;
            }
        }
    }

    asio::awaitable<void> accept_loop() {
        asio::steady_timer backoff(ioc);
        for (;;) {
            auto [ec, sock] = co_await acceptor.async_accept(tok);
            if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
            if (ec) {
                // Out of descriptors or similar: wait a little instead of spinning.
                backoff.expires_after(std::chrono::milliseconds(10));
                co_await backoff.async_wait(tok);
                continue;
            }
            auto s = [this, sock = std::move(sock)]() mutable -> asio::awaitable<void> {
                try {
                    co_await session(std::move(sock));
                } catch (const std::exception& e) {
                    spdlog::warn("gateway: connection dropped: {}", e.what());
                }
            };
            asio::co_spawn(ioc, std::move(s), asio::detached);
        }
    }
};

server::server(store::store& db, options o) : impl_(std::make_unique<impl>(db, std::move(o))) {}

server::~server() {
    stop();
}

result<void> server::start(std::string* error) {
    auto& s = *impl_;
    std::lock_guard lk(s.life_mu);
    auto fail = [&](std::string msg, error_code ec) -> result<void> {
        if (error) *error = std::move(msg);
        return ec;
    };
    if (s.running) return fail("already running", make_error_code(std::errc::operation_in_progress));
    boost::system::error_code ec;
    auto addr = asio::ip::make_address(s.o.host == "localhost" ? "127.0.0.1" : s.o.host, ec);
    if (ec) return fail("not an IP address: '" + s.o.host + "'", ec);
    tcp::endpoint ep(addr, s.o.port);
    s.acceptor.open(ep.protocol(), ec);
    if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) s.acceptor.bind(ep, ec);
    if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        boost::system::error_code ignore;
        s.acceptor.close(ignore);
        return fail("cannot listen on " + s.o.host + ":" + std::to_string(s.o.port) + ": " + ec.message(),
                    ec);
    }
    s.port = s.acceptor.local_endpoint().port();
    // Journal completions come back to the io thread in one hand-over per commit.
    s.db.set_completion_dispatch(
        [ex = s.ioc.get_executor()](std::function<void()> f) { asio::post(ex, std::move(f)); });
    auto accept = [&s]() -> asio::awaitable<void> { co_await s.accept_loop(); };
    asio::co_spawn(s.ioc, std::move(accept), asio::detached);
    s.running = true;
    s.thread = std::thread([&s] {
        auto guard = asio::make_work_guard(s.ioc);
        s.ioc.run();
    });
    return {};
}

std::uint16_t server::port() const noexcept {
    return impl_->port;
}

std::string server::base_url() const {
    const auto& h = impl_->o.host;
    return "http://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" +
           std::to_string(impl_->port);
}

void server::drain() {
    impl_->draining = true;
    asio::post(impl_->ioc, [s = impl_.get()] { s->wake_subscribers(); });  // event streams end
}

bool server::draining() const noexcept {
    return impl_->draining;
}

bool server::wait_drained(std::chrono::milliseconds limit) {
    auto& s = *impl_;
    auto idle = [&] { return s.in_progress.load() == 0 && s.deliveries.load() == 0; };
    {
        std::unique_lock lk(s.drain_mu);
        if (s.drain_cv.wait_for(lk, limit, idle)) return true;
    }
    // Past the limit: nothing more leaves; what is on the wire finishes or is reconciled next time.
    s.stop_flag = true;
    auto stop_all = [&s] {
        for (auto& [name, c] : s.clients) c.c->stop_sending();
        for (auto& c : s.retired) c->stop_sending();
    };
    asio::post(s.ioc, stop_all);
    std::unique_lock lk(s.drain_mu);
    s.drain_cv.wait_for(lk, std::chrono::seconds(5), idle);
    return false;
}

void server::stop() {
    auto& s = *impl_;
    std::lock_guard lk(s.life_mu);
    if (!s.running.exchange(false)) return;
    auto close_all = [&s] {
        boost::system::error_code ignore;
        s.acceptor.close(ignore);
        for (auto* st : s.streams) st->socket().close(ignore);
    };
    auto closed = std::make_shared<std::promise<void>>();
    auto done = closed->get_future();
    asio::post(s.ioc, [close_all, closed] {
        close_all();
        closed->set_value();
    });
    done.wait_for(std::chrono::seconds(5));
    s.ioc.stop();
    s.thread.join();
    // Completions of what was committed run here, while the clients they refer to still exist.
    s.db.set_completion_dispatch(nullptr);
    s.db.flush();
    s.ioc.restart();
    s.ioc.poll();
    s.clients.clear();
    s.retired.clear();
}

}  // namespace nubefact::gateway
