// The gateway's network side (include/nubefact/gateway.hpp): Beast HTTP/1.1 on one io thread, the
// engine and one client per account on the same thread, the decisions of decisions.cpp.
#include <nubefact/client.hpp>
#include <nubefact/gateway.hpp>

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
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>

#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include "net/chunked_guard.hpp"
#include "net/linger.hpp"

#include <algorithm>
#include <array>
#include <condition_variable>
#include <future>
#include <set>
#include <thread>
#include <tuple>

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
    engine::outcome result;
    std::chrono::steady_clock::time_point finished;  // when done
    std::vector<asio::steady_timer*> waiters;        // woken (cancelled) when done
};

// What a handler answers besides the status and body.
struct reply {
    answer a;
    std::string content_type = "application/json; charset=utf-8";
    bool close = false;
    std::string document;  // for the log line
};

reply text_reply(int status, std::string body) {
    reply r;
    r.a.status = status;
    r.a.body = std::move(body);
    r.content_type = "text/plain; charset=utf-8";
    return r;
}

}  // namespace

struct server::impl {
    impl(store::store& d, options opt) : db(d), o(std::move(opt)) {
        o.prepare.max_document_bytes = o.limit.max_body;
    }

    store::store& db;
    options o;
    asio::io_context ioc{1};  // one thread: connections, engine and clients need no strand
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
        co.journal = std::shared_ptr<intent_journal>(std::shared_ptr<void>{}, &db.journal());
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

    // Waits up to upstream_wait for `f`; its answer, or the transient one.
    asio::awaitable<answer> wait_for(std::shared_ptr<flight> f) {
        if (!f->done) {
            asio::steady_timer t(ioc);
            t.expires_after(o.upstream_wait);
            f->waiters.push_back(&t);
            co_await t.async_wait(tok);
            std::erase(f->waiters, &t);
        }
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

    asio::awaitable<reply> handle(const http::request<http::string_body>& req) {
        const std::string_view method(req.method_string().data(), req.method_string().size());
        const std::string_view target(req.target().data(), req.target().size());
        auto rt = match_route(method, target);
        if (rt.kind == route_kind::dropin) {
            auto task = dropin(rt, req);
            co_return co_await std::move(task);
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
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
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
            }
            keep_alive = keep_alive && !r.close && !draining;
            http::response<http::string_body> res{static_cast<http::status>(r.a.status), version};
            res.set(http::field::content_type, r.content_type);
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
