// Sans-io decisions: token bucket (GCRA), retry policy, exactly-once delivery machine, pool book.
#include <nubefact/client_policy.hpp>

#include "core/splitmix.hpp"

#include <nubefact/json.hpp>

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cmath>

namespace nubefact::sansio {

// ---- token_bucket ------------------------------------------------------------------------------

token_bucket::token_bucket(const rate_config& cfg) {
    if (!(cfg.requests_per_second > 0)) {
        unlimited_ = true;
    } else {
        // 0.1 % slower than 1/rate: a closed one-second window then holds at most rate + burst - 1
        // grants, which leaves one request of slack for arrival jitter at the server.
        interval_ = std::chrono::duration_cast<duration>(
            std::chrono::duration<double>(1.001 / cfg.requests_per_second));
        if (interval_.count() <= 0) interval_ = duration(1);
        // One token is kept back as a margin: together with the longer interval, a closed one-second
        // window holds at most rate + burst - 2 grants, so the server's view stays within
        // rate + burst even when arrivals bunch up by a few intervals.
        auto capacity = std::max(1, cfg.burst - 1);
        tau_ = interval_ * (capacity - 1);
    }
    min_interval_ = std::chrono::duration_cast<duration>(cfg.min_interval);
}

time_point token_bucket::reserve(time_point now) {
    time_point grant = now;
    if (!unlimited_) {
        auto tat = std::max(tat_, now);
        grant = std::max(now, tat - tau_);
        tat_ = tat + interval_;
    }
    grant = std::max(grant, paused_until_);
    if (granted_any_ && min_interval_.count() > 0) grant = std::max(grant, last_grant_ + min_interval_);
    // Keep the steady-rate timeline behind every grant so spacing never produces a later burst.
    if (!unlimited_ && tat_ < grant + interval_ - tau_) tat_ = grant + interval_ - tau_;
    last_grant_ = std::max(last_grant_, grant);
    granted_any_ = true;
    return grant;
}

void token_bucket::pause_until(time_point until) {
    if (until <= paused_until_) return;
    paused_until_ = until;
    // Resume at the steady rate: the first slot at `until`, then one per interval.
    if (!unlimited_ && tat_ < until + tau_) tat_ = until + tau_;
    if (!unlimited_ && sent_tat_ < until + tau_) sent_tat_ = until + tau_;
}

bool token_bucket::admit(time_point now, duration& wait) {
    wait = duration{0};
    if (unlimited_) return true;
    auto earliest = sent_tat_ - tau_;
    if (now < earliest) {
        wait = earliest - now;
        return false;
    }
    sent_tat_ = std::max(sent_tat_, now) + interval_;
    return true;
}

// ---- retry_policy ------------------------------------------------------------------------------

bool is_permanent_codigo(int codigo) noexcept {
    return codigo != static_cast<int>(api_errc::internal) &&
           codigo != static_cast<int>(api_errc::already_exists);
}

retry_policy::retry_policy(const retry_config& cfg, std::uint64_t seed) : cfg_(cfg), rng_(seed) {}

std::uint64_t retry_policy::next_random() {
    return detail::splitmix64(rng_);
}

bool retry_policy::retryable(const attempt_view& a) noexcept {
    switch (a.what) {
        case verdict::success:
        case verdict::permanent:
            return false;
        case verdict::api_error:
            return codigo_is(a.codigo, api_errc::internal);
        case verdict::ambiguous:
        case verdict::not_delivered:
        case verdict::throttled:
            return true;
    }
    return false;
}

std::optional<duration> retry_policy::next_delay(int attempts_done, time_point first, time_point now,
                                                 std::optional<duration> retry_after) {
    if (attempts_done >= cfg_.max_attempts) return std::nullopt;
    auto deadline = first + std::chrono::duration_cast<duration>(cfg_.total_deadline);
    auto base = std::chrono::duration_cast<duration>(cfg_.base);
    auto cap = std::chrono::duration_cast<duration>(cfg_.cap);
    // base * 2^(attempts_done-1), saturating at cap.
    duration ceiling = base;
    for (int i = 1; i < attempts_done && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    duration d{0};
    if (ceiling.count() > 0) {
        // Uniform in [0, ceiling] by a 128-bit multiply (bias below 2^-60 for any real ceiling).
        auto span = static_cast<unsigned __int128>(ceiling.count()) + 1;
        d = duration(static_cast<duration::rep>((span * next_random()) >> 64));
    }
    if (retry_after) d = std::max(d, *retry_after);
    if (now + d > deadline) return std::nullopt;
    return d;
}

doc_state settled_state(const response& r) noexcept {
    if (!r.aceptada_por_sunat || *r.aceptada_por_sunat) return doc_state::accepted;
    if (r.sunat_responsecode && !r.sunat_responsecode->empty() && *r.sunat_responsecode != "0")
        return doc_state::rejected;
    return doc_state::pending_sunat;  // SUNAT has not answered yet (ticket, boleta in a resumen, guía)
}

// ---- follow_schedule -----------------------------------------------------------------------------

follow_schedule::follow_schedule(time_point start, duration limit, duration first, duration cap)
    : deadline_(start + limit), delay_(first), cap_(cap) {}

std::optional<duration> follow_schedule::next(time_point now) {
    if (now + delay_ > deadline_) return std::nullopt;
    const auto d = delay_;
    delay_ = std::min(delay_ * 2, cap_);
    ++consults_;
    return d;
}

// ---- resume plan -------------------------------------------------------------------------------

std::string_view to_string(resume r) noexcept {
    switch (r) {
        case resume::send:
            return "send";
        case resume::consult_first:
            return "consult_first";
        case resume::skip:
            return "skip";
        case resume::resend_corrected:
            return "resend_corrected";
        case resume::conflict:
            return "conflict";
        case resume::wait:
            return "wait";
    }
    return "";
}

resume resume_plan(const intent_journal::record_result& r, std::string_view payload_hash) noexcept {
    if (r.created) return r.replaced ? resume::resend_corrected : resume::send;
    const auto& rec = r.record;
    if (rec.what.payload_hash != payload_hash) return resume::conflict;
    if (is_final(rec.state)) return resume::skip;
    if (!r.claimed) return resume::wait;
    if (may_resend_corrected(rec.state)) return resume::send;
    if (rec.state == doc_state::queued && rec.attempts == 0) return resume::send;
    return resume::consult_first;
}

// ---- consulted document ----------------------------------------------------------------------

namespace {
std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}
}  // namespace

consulted_match compare_consulted(operation op, std::string_view canonical_payload,
                                  const response& consulted) {
    consulted_match out;
    if (op != operation::generar_comprobante || !consulted.cadena_para_codigo_qr) return out;
    // RUC | tipo | serie | numero | IGV | total | fecha | tipo doc adquirente | num doc | hash |
    std::vector<std::string_view> f;
    std::string_view q = *consulted.cadena_para_codigo_qr;
    for (std::size_t at = 0; at <= q.size();) {
        auto bar = q.find('|', at);
        if (bar == std::string_view::npos) bar = q.size();
        f.push_back(trim(q.substr(at, bar - at)));
        at = bar + 1;
    }
    if (f.size() < 9) return out;
    auto r = json::read_request(canonical_payload);
    const auto* doc = std::get_if<comprobante>(&r.doc);
    if (!doc) return out;
    // Only a string that names this very document (serie and numero) says anything about it.
    auto numero = [](std::string_view t) -> std::optional<std::int64_t> {
        std::int64_t n = 0;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
        if (ec != std::errc{} || end != t.data() + t.size()) return std::nullopt;
        return n;
    };
    if (!doc->serie || !doc->numero || f[2] != *doc->serie || numero(f[3]) != *doc->numero) return out;
    bool compared = false;
    auto differs = [&](std::string_view name, std::string_view theirs, const std::string& ours) {
        compared = true;
        if (out.detail.empty())
            out.detail = fmt::format("{} {} at Nubefact, {} here", name, theirs.empty() ? "(none)" : theirs,
                                     ours.empty() ? "(none)" : ours);
        out.verdict = match::different;
    };
    auto amount = [&](std::string_view name, std::string_view theirs, const opt_dec& ours) {
        auto t = decimal::parse(theirs);
        if (!t || !ours) return;
        compared = true;
        if (*t != *ours) differs(name, theirs, ours->to_string());
    };
    amount("IGV", f[4], doc->total_igv);
    amount("total", f[5], doc->total);
    if (auto d = date::parse(f[6]); d && doc->fecha_de_emision) {
        compared = true;
        if (*d != *doc->fecha_de_emision) differs("fecha", f[6], doc->fecha_de_emision->to_wire());
    }
    if (!f[8].empty() && doc->cliente_numero_de_documento) {
        compared = true;
        if (f[8] != *doc->cliente_numero_de_documento)
            differs("customer", f[8], *doc->cliente_numero_de_documento);
    }
    if (compared && out.verdict != match::different) out.verdict = match::same;
    return out;
}

// ---- delivery ------------------------------------------------------------------------------------

delivery::delivery(bool exactly_once, retry_policy policy, time_point start, bool possibly_delivered,
                   bool consult_first)
    : exactly_once_(exactly_once),
      policy_(std::move(policy)),
      start_(start),
      possibly_delivered_(possibly_delivered),
      maybe_exists_(possibly_delivered),
      consult_first_(consult_first && exactly_once) {}

delivery::step delivery::begin(time_point) {
    if (consult_first_) {
        ++consults_;
        return {kind::consult};
    }
    ++sends_;
    return {kind::send};
}

delivery::step delivery::finish(outcome o, error_code ec, std::optional<int> codigo) {
    step s;
    s.what = kind::finish;
    s.result = o;
    s.error = ec;
    s.codigo = codigo;
    return s;
}

delivery::step delivery::retry_send(const attempt_view& a, time_point now) {
    auto d = policy_.next_delay(sends_, start_, now, a.retry_after);
    if (!d) return finish(maybe_exists_ ? outcome::unknown : outcome::failed, a.error, a.codigo);
    ++sends_;
    return {kind::send, *d};
}

delivery::step delivery::retry_consult(const attempt_view& a, time_point now) {
    auto d = policy_.next_delay(consults_, start_, now, a.retry_after);
    if (!d) return finish(outcome::unknown, a.error, a.codigo);
    ++consults_;
    return {kind::consult, *d};
}

delivery::step delivery::on_send(const attempt_view& a, time_point now) {
    switch (a.what) {
        case verdict::success:
            return finish(outcome::sent, {}, std::nullopt);
        case verdict::not_delivered:
        case verdict::throttled:
            return retry_send(a, now);
        case verdict::permanent:
            return finish(maybe_exists_ ? outcome::unknown : outcome::failed, a.error, a.codigo);
        case verdict::api_error:
            if (codigo_is(a.codigo, api_errc::already_exists) && exactly_once_) {
                // The intent with this payload is journaled before any send: the number may be ours
                // (another sender's, a crashed run's, or our own first attempt committed late).
                // Consult, and let the caller compare what Nubefact holds.
                possibly_delivered_ = true;
                maybe_exists_ = true;
                duplicate_seen_ = true;
                ++consults_;
                return {kind::consult};
            }
            if (codigo_is(a.codigo, api_errc::internal)) break;  // internal error: treated as ambiguous below
            return finish(maybe_exists_ ? outcome::unknown : outcome::failed, a.error, a.codigo);
        case verdict::ambiguous:
            break;
    }
    // Ambiguous (or codigo 40): the document may exist now.
    if (!exactly_once_) return retry_send(a, now);
    possibly_delivered_ = true;
    maybe_exists_ = true;
    duplicate_seen_ = false;
    // The consult itself needs budget; when the deadline has passed we cannot know: unknown.
    auto d = policy_.next_delay(consults_, start_, now);
    if (!d) return finish(outcome::unknown, a.error, a.codigo);
    ++consults_;
    return {kind::consult, duration{0}};
}

delivery::step delivery::on_consult(const attempt_view& a, time_point now) {
    switch (a.what) {
        case verdict::success:
            return finish(outcome::adopted, {}, std::nullopt);
        case verdict::api_error:
            if (codigo_is(a.codigo, api_errc::not_found)) {
                if (duplicate_seen_) {
                    // Nubefact said "exists" and then "not found": ask again, never resend blindly.
                    ++not_found_after_duplicate_;
                    return retry_consult(a, now);
                }
                // Not there: the earlier attempt did not create it, so sending again is safe. (A
                // codigo 23 on the resend still counts as ours: the first request may have been
                // committed late.)
                consult_first_ = false;
                maybe_exists_ = false;
                return retry_send(a, now);
            }
            if (codigo_is(a.codigo, api_errc::internal)) return retry_consult(a, now);
            return finish(outcome::unknown, a.error, a.codigo);
        case verdict::ambiguous:
        case verdict::not_delivered:
        case verdict::throttled:
            return retry_consult(a, now);
        case verdict::permanent:
            return finish(outcome::unknown, a.error, a.codigo);
    }
    return finish(outcome::unknown, a.error, a.codigo);
}

// ---- pool_book -----------------------------------------------------------------------------------

pool_book::pool_book(std::size_t cap, duration idle_timeout)
    : cap_(std::max<std::size_t>(cap, 1)), idle_timeout_(idle_timeout) {}

pool_book::lease pool_book::acquire(time_point now) {
    lease l;
    while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) {
        l.close.push_back(idle_.front().id);
        idle_.pop_front();
    }
    ++active_;
    if (!idle_.empty()) {
        // Newest idle first: the least likely to have been closed by the server meanwhile.
        l.reuse = true;
        l.id = idle_.back().id;
        idle_.pop_back();
        return l;
    }
    l.id = next_id_++;
    ++opened_;
    return l;
}

void pool_book::release(std::uint64_t id, bool reusable, time_point now) {
    if (active_ > 0) --active_;
    if (reusable && total() < cap_) idle_.push_back({id, now});
}

std::vector<std::uint64_t> pool_book::expire(time_point now) {
    std::vector<std::uint64_t> out;
    while (!idle_.empty() && now - idle_.front().since >= idle_timeout_) {
        out.push_back(idle_.front().id);
        idle_.pop_front();
    }
    return out;
}

}  // namespace nubefact::sansio
