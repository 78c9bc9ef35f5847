// Sans-io decisions with a mock clock: token bucket, retry policy, every reconciliation branch, pool book.
#include <nubefact/client_policy.hpp>

#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

using namespace nubefact;
using namespace nubefact::sansio;
using namespace std::chrono_literals;

namespace {

time_point t0() {
    return time_point{} + 1000s;
}

// Counts grants in every closed one-second window starting at a grant.
std::size_t max_in_window(std::vector<time_point> g) {
    std::sort(g.begin(), g.end());
    std::size_t best = 0, j = 0;
    for (std::size_t i = 0; i < g.size(); ++i) {
        while (j < g.size() && g[j] <= g[i] + 1s) ++j;
        best = std::max(best, j - i);
    }
    return best;
}

attempt_view view(verdict v, std::optional<int> codigo = std::nullopt) {
    attempt_view a;
    a.what = v;
    a.codigo = codigo;
    if (codigo)
        a.error = error_code(*codigo, api_category());
    else if (v == verdict::ambiguous)
        a.error = make_error_code(client_errc::timeout);
    else if (v == verdict::not_delivered)
        a.error = make_error_code(client_errc::transport);
    return a;
}

retry_config fast_retry(int attempts = 5) {
    retry_config r;
    r.max_attempts = attempts;
    r.base = 10ms;
    r.cap = 100ms;
    r.total_deadline = 10s;
    return r;
}

}  // namespace

// ---- token bucket -------------------------------------------------------------------------------

TEST(TokenBucket, BurstThenSteadyRate) {
    token_bucket b(rate_config{50.0, 10, 0ms});
    auto now = t0();
    for (int i = 0; i < 9; ++i) EXPECT_EQ(b.reserve(now), now) << i;  // burst - 1 at once (margin)
    // The next waits one interval (20 ms + 0.1 %), the one after two.
    auto g11 = b.reserve(now), g12 = b.reserve(now);
    EXPECT_GE(g11, now + 20ms);
    EXPECT_LE(g11, now + 20021us);
    EXPECT_EQ(g12 - now, 2 * (g11 - now));
}

TEST(TokenBucket, NeverMoreThanRatePlusBurstInAnySecond) {
    token_bucket b(rate_config{50.0, 10, 0ms});
    std::vector<time_point> grants;
    auto now = t0();
    // 2000 callers arriving in clumps over ~10 s of mock time.
    for (int i = 0; i < 2000; ++i) {
        if (i % 37 == 0) now += 300ms;
        grants.push_back(b.reserve(now));
    }
    EXPECT_LE(max_in_window(grants), 58u);  // rate + burst - 2: slack for jitter on the way
    // And it is not overly conservative: the steady tail runs at the configured rate.
    EXPECT_GE(max_in_window(grants), 50u);
}

TEST(TokenBucket, RefillsAfterIdle) {
    token_bucket b(rate_config{10.0, 3, 0ms});
    auto now = t0();
    for (int i = 0; i < 2; ++i) EXPECT_EQ(b.reserve(now), now);
    EXPECT_GT(b.reserve(now), now);
    now += 10s;
    for (int i = 0; i < 2; ++i) EXPECT_EQ(b.reserve(now), now) << i;
}

TEST(TokenBucket, MinIntervalSpacesEveryGrant) {
    token_bucket b(rate_config{1000.0, 100, 50ms});
    auto now = t0();
    auto a = b.reserve(now), c = b.reserve(now), d = b.reserve(now);
    EXPECT_EQ(a, now);
    EXPECT_EQ(c, now + 50ms);
    EXPECT_EQ(d, now + 100ms);
}

TEST(TokenBucket, RetryAfterPausesAndResumesWithoutBurst) {
    token_bucket b(rate_config{10.0, 5, 0ms});
    auto now = t0();
    b.pause_until(now + 2s);
    EXPECT_EQ(b.paused_until(), now + 2s);
    std::vector<time_point> g;
    for (int i = 0; i < 5; ++i) g.push_back(b.reserve(now));
    EXPECT_EQ(g[0], now + 2s);
    for (int i = 1; i < 5; ++i) {
        EXPECT_GE(g[i] - g[i - 1], 100ms) << i;
        EXPECT_LE(g[i] - g[i - 1], 100101us) << i;
    }
    // An earlier pause never shortens a later one.
    b.pause_until(now + 1s);
    EXPECT_EQ(b.paused_until(), now + 2s);
}

TEST(TokenBucket, AdmissionSpacesLateWakers) {
    token_bucket b(rate_config{50.0, 5, 0ms});
    auto now = t0();
    std::vector<time_point> slots;
    for (int i = 0; i < 20; ++i) slots.push_back(b.reserve(now));
    // The process stalls for 2 s: every caller wakes at once. Admission lets burst - 1 go, then
    // one per interval, on the actual clock.
    auto late = now + 2s;
    duration wait{};
    int admitted = 0;
    for (int i = 0; i < 20; ++i)
        if (b.admit(late, wait)) ++admitted;
    EXPECT_EQ(admitted, 4);
    EXPECT_GT(wait, 0ms);
    EXPECT_LE(wait, 20021us * 4);
    EXPECT_TRUE(b.admit(late + 21ms, wait));
    // Callers that leave at their reserved times are never held back.
    token_bucket c(rate_config{50.0, 5, 0ms});
    for (int i = 0; i < 50; ++i) {
        auto g = c.reserve(now);
        EXPECT_TRUE(c.admit(g, wait)) << i;
    }
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
    token_bucket b(rate_config{0.0, 0, 0ms});
    EXPECT_TRUE(b.unlimited());
    auto now = t0();
    for (int i = 0; i < 1000; ++i) EXPECT_EQ(b.reserve(now), now);
}

// ---- retry policy --------------------------------------------------------------------------------

TEST(RetryPolicy, RetryableClassification) {
    EXPECT_TRUE(retry_policy::retryable(view(verdict::ambiguous)));
    EXPECT_TRUE(retry_policy::retryable(view(verdict::not_delivered)));
    EXPECT_TRUE(retry_policy::retryable(view(verdict::throttled)));
    EXPECT_TRUE(retry_policy::retryable(view(verdict::api_error, 40)));
    for (int c : {10, 11, 12, 20, 21, 22, 24, 50, 51}) {
        EXPECT_FALSE(retry_policy::retryable(view(verdict::api_error, c))) << c;
        EXPECT_TRUE(is_permanent_codigo(c)) << c;
    }
    EXPECT_FALSE(is_permanent_codigo(40));
    EXPECT_FALSE(retry_policy::retryable(view(verdict::permanent)));
    EXPECT_FALSE(retry_policy::retryable(view(verdict::success)));
}

TEST(RetryPolicy, FullJitterWithinExponentialCeiling) {
    retry_config cfg{10, 100ms, 1000ms, 3600s};
    retry_policy p(cfg, 42);
    for (int attempt = 1; attempt <= 8; ++attempt) {
        auto ceiling = std::min<duration>(100ms * (1 << (attempt - 1)), 1000ms);
        for (int i = 0; i < 200; ++i) {
            auto d = p.next_delay(attempt, t0(), t0());
            ASSERT_TRUE(d);
            EXPECT_GE(d->count(), 0);
            EXPECT_LE(*d, ceiling) << attempt;
        }
    }
}

TEST(RetryPolicy, SeededIsDeterministic) {
    retry_policy a(fast_retry(), 7), b(fast_retry(), 7);
    for (int i = 1; i < 5; ++i) EXPECT_EQ(a.next_delay(i, t0(), t0()), b.next_delay(i, t0(), t0()));
}

TEST(RetryPolicy, AttemptsAndDeadlineBound) {
    retry_policy p(retry_config{3, 10ms, 100ms, 1s}, 1);
    EXPECT_TRUE(p.next_delay(1, t0(), t0()));
    EXPECT_TRUE(p.next_delay(2, t0(), t0()));
    EXPECT_FALSE(p.next_delay(3, t0(), t0()));       // 3 attempts done
    EXPECT_FALSE(p.next_delay(1, t0(), t0() + 2s));  // deadline passed
}

TEST(RetryPolicy, RetryAfterIsAFloor) {
    retry_policy p(retry_config{5, 10ms, 100ms, 60s}, 1);
    auto d = p.next_delay(1, t0(), t0(), 3s);
    ASSERT_TRUE(d);
    EXPECT_EQ(*d, 3s);
    // A Retry-After beyond the deadline ends the call instead of waiting past it.
    EXPECT_FALSE(p.next_delay(1, t0(), t0(), 120s));
}

// ---- delivery (exactly-once) ---------------------------------------------------------------------

namespace {
delivery eo(int attempts = 5, bool possibly = false, bool consult_first = false) {
    return delivery(true, retry_policy(fast_retry(attempts), 3), t0(), possibly, consult_first);
}
using K = delivery::kind;
using O = delivery::outcome;
}  // namespace

TEST(Delivery, SuccessFirstTime) {
    auto d = eo();
    EXPECT_EQ(d.begin(t0()).what, K::send);
    auto s = d.on_send(view(verdict::success), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::sent);
}

TEST(Delivery, AmbiguousConsultsBeforeAnyResend) {
    auto d = eo();
    d.begin(t0());
    auto s = d.on_send(view(verdict::ambiguous), t0());
    EXPECT_EQ(s.what, K::consult);
    EXPECT_TRUE(d.possibly_delivered());
    // Found: adopt it, never resend.
    auto f = d.on_consult(view(verdict::success), t0());
    EXPECT_EQ(f.what, K::finish);
    EXPECT_EQ(f.result, O::adopted);
    EXPECT_EQ(d.sends(), 1);
}

TEST(Delivery, AmbiguousThenNotFoundResends) {
    auto d = eo();
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::ambiguous), t0()).what, K::consult);
    auto s = d.on_consult(view(verdict::api_error, 24), t0());
    EXPECT_EQ(s.what, K::send);
    EXPECT_EQ(d.on_send(view(verdict::success), t0()).result, O::sent);
}

TEST(Delivery, Codigo40And5xxAreAmbiguous) {
    auto d = eo();
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::api_error, 40), t0()).what, K::consult);
    auto d2 = eo();
    d2.begin(t0());
    EXPECT_EQ(d2.on_send(view(verdict::ambiguous, 40), t0()).what, K::consult);
}

TEST(Delivery, NotDeliveredRetriesWithoutConsult) {
    auto d = eo();
    d.begin(t0());
    auto s = d.on_send(view(verdict::not_delivered), t0());
    EXPECT_EQ(s.what, K::send);
    EXPECT_FALSE(d.possibly_delivered());
}

TEST(Delivery, ThrottledWaitsRetryAfter) {
    auto d = eo();
    d.begin(t0());
    auto v = view(verdict::throttled);
    v.retry_after = 2s;
    auto s = d.on_send(v, t0());
    EXPECT_EQ(s.what, K::send);
    EXPECT_GE(s.delay, 2s);
}

TEST(Delivery, Codigo23OnOurAmbiguousSendIsRecovered) {
    auto d = eo();
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::ambiguous), t0()).what, K::consult);
    // The consult failed in transit, so we resent... (not found) then Nubefact says 23: ours.
    EXPECT_EQ(d.on_consult(view(verdict::api_error, 24), t0()).what, K::send);
    auto s = d.on_send(view(verdict::api_error, 23), t0());
    EXPECT_EQ(s.what, K::consult);
    EXPECT_EQ(d.on_consult(view(verdict::success), t0()).result, O::adopted);
}

TEST(Delivery, Codigo23FromAnEarlierRunOfOursIsRecovered) {
    auto d = eo(5, /*possibly=*/true);
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::api_error, 23), t0()).what, K::consult);
    EXPECT_EQ(d.on_consult(view(verdict::success), t0()).result, O::adopted);
}

// The intent is journaled with this payload before any send: a 23 is consulted even on the first
// attempt (another sender or a crashed run may have sent it); the caller compares what it holds.
TEST(Delivery, Codigo23OnTheFirstSendIsConsulted) {
    auto d = eo();
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::api_error, 23), t0()).what, K::consult);
    EXPECT_TRUE(d.answering_duplicate());
    EXPECT_TRUE(d.maybe_exists());
    auto s = d.on_consult(view(verdict::success), t0());
    EXPECT_EQ(s.result, O::adopted);
}

// Not exactly-once (a consultar_*): a 23 is a plain error.
TEST(Delivery, Codigo23WithoutExactlyOnceIsAnError) {
    delivery d(false, retry_policy(fast_retry(3), 1), t0());
    d.begin(t0());
    auto s = d.on_send(view(verdict::api_error, 23), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::failed);
    EXPECT_EQ(s.codigo, 23);
}

TEST(Delivery, ExistsThenNotFoundNeverResendsBlindly) {
    auto d = eo(3, true);
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::api_error, 23), t0()).what, K::consult);
    // Nubefact contradicts itself: keep consulting, then give up as unknown; never send again.
    EXPECT_EQ(d.on_consult(view(verdict::api_error, 24), t0()).what, K::consult);
    EXPECT_EQ(d.on_consult(view(verdict::api_error, 24), t0()).what, K::consult);
    auto s = d.on_consult(view(verdict::api_error, 24), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::unknown);
    EXPECT_EQ(d.sends(), 1);
}

TEST(Delivery, PermanentCodigosNeverRetried) {
    for (int c : {10, 11, 12, 20, 21, 22, 24, 50, 51}) {
        auto d = eo();
        d.begin(t0());
        auto s = d.on_send(view(verdict::api_error, c), t0());
        EXPECT_EQ(s.what, K::finish) << c;
        EXPECT_EQ(s.result, O::failed) << c;
        EXPECT_EQ(s.codigo, c);
        EXPECT_EQ(d.sends(), 1);
    }
}

TEST(Delivery, PermanentAfterNotFoundIsFailed) {
    auto d = eo();
    d.begin(t0());
    d.on_send(view(verdict::ambiguous), t0());
    EXPECT_EQ(d.on_consult(view(verdict::api_error, 24), t0()).what, K::send);
    // The consult said it did not exist, and the resend is refused for a permanent reason: failed.
    auto s = d.on_send(view(verdict::api_error, 20), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::failed);
    EXPECT_TRUE(d.possibly_delivered());
    EXPECT_FALSE(d.maybe_exists());
}

TEST(Delivery, ConsultFailuresRetryThenUnknown) {
    auto d = eo(2);
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::ambiguous), t0()).what, K::consult);
    EXPECT_EQ(d.on_consult(view(verdict::not_delivered), t0()).what, K::consult);
    auto s = d.on_consult(view(verdict::ambiguous), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::unknown);
}

TEST(Delivery, ConsultAccountErrorIsUnknown) {
    auto d = eo();
    d.begin(t0());
    d.on_send(view(verdict::ambiguous), t0());
    auto s = d.on_consult(view(verdict::api_error, 10), t0());
    EXPECT_EQ(s.result, O::unknown);
    EXPECT_EQ(s.codigo, 10);
}

TEST(Delivery, ResumeConsultsFirst) {
    auto d = eo(5, true, true);
    EXPECT_EQ(d.begin(t0()).what, K::consult);
    EXPECT_EQ(d.on_consult(view(verdict::api_error, 24), t0()).what, K::send);
    EXPECT_EQ(d.on_send(view(verdict::success), t0()).result, O::sent);
}

TEST(Delivery, ResumeFindsItAlreadyThere) {
    auto d = eo(5, true, true);
    d.begin(t0());
    EXPECT_EQ(d.on_consult(view(verdict::success), t0()).result, O::adopted);
    EXPECT_EQ(d.sends(), 0);
}

TEST(Delivery, SendBudgetExhausted) {
    auto d = eo(3);
    d.begin(t0());
    EXPECT_EQ(d.on_send(view(verdict::not_delivered), t0()).what, K::send);
    EXPECT_EQ(d.on_send(view(verdict::not_delivered), t0()).what, K::send);
    auto s = d.on_send(view(verdict::not_delivered), t0());
    EXPECT_EQ(s.what, K::finish);
    EXPECT_EQ(s.result, O::failed);
    EXPECT_EQ(s.error, make_error_code(client_errc::transport));
}

TEST(Delivery, DeadlineEndsRetries) {
    delivery d(true, retry_policy(retry_config{100, 10ms, 10ms, 1s}, 1), t0());
    d.begin(t0());
    auto s = d.on_send(view(verdict::not_delivered), t0() + 2s);
    EXPECT_EQ(s.what, K::finish);
}

TEST(Delivery, ConsultasRetryPlainlyWithoutReconciliation) {
    delivery d(false, retry_policy(fast_retry(), 1), t0());
    EXPECT_EQ(d.begin(t0()).what, K::send);
    EXPECT_EQ(d.on_send(view(verdict::ambiguous), t0()).what, K::send);
    auto s = d.on_send(view(verdict::api_error, 24), t0());
    EXPECT_EQ(s.result, O::failed);
    EXPECT_EQ(s.codigo, 24);
}

TEST(SettledState, FromResponseFields) {
    response r;
    r.aceptada_por_sunat = true;
    r.sunat_responsecode = "0";
    EXPECT_EQ(settled_state(r), doc_state::accepted);
    r.aceptada_por_sunat = false;
    r.sunat_responsecode = "2800";
    EXPECT_EQ(settled_state(r), doc_state::rejected);
    r.sunat_responsecode.reset();  // pending at SUNAT: Nubefact has it
    EXPECT_EQ(settled_state(r), doc_state::pending_sunat);
    r.sunat_responsecode = "0";
    EXPECT_EQ(settled_state(r), doc_state::pending_sunat);
    r.aceptada_por_sunat.reset();  // answers without SUNAT's verdict (retención, percepción)
    EXPECT_EQ(settled_state(r), doc_state::accepted);
}

// ---- pool book ---------------------------------------------------------------------------------

TEST(PoolBook, ReusesNewestIdleAndNeverExceedsCap) {
    pool_book p(2, 10s);
    auto now = t0();
    auto a = p.acquire(now);
    auto b = p.acquire(now);
    EXPECT_FALSE(a.reuse);
    EXPECT_FALSE(b.reuse);
    EXPECT_NE(a.id, b.id);
    EXPECT_EQ(p.total(), 2u);
    p.release(a.id, true, now);
    p.release(b.id, true, now + 1s);
    auto c = p.acquire(now + 2s);
    EXPECT_TRUE(c.reuse);
    EXPECT_EQ(c.id, b.id);  // newest
    EXPECT_LE(p.total(), 2u);
    EXPECT_EQ(p.opened(), 2u);
}

TEST(PoolBook, BrokenConnectionsAreForgotten) {
    pool_book p(1, 10s);
    auto a = p.acquire(t0());
    p.release(a.id, false, t0());
    EXPECT_EQ(p.total(), 0u);
    auto b = p.acquire(t0());
    EXPECT_FALSE(b.reuse);
    EXPECT_EQ(p.opened(), 2u);
}

TEST(PoolBook, IdleTimeoutCloses) {
    pool_book p(4, 5s);
    auto a = p.acquire(t0());
    p.release(a.id, true, t0());
    EXPECT_TRUE(p.expire(t0() + 1s).empty());
    auto gone = p.expire(t0() + 6s);
    ASSERT_EQ(gone.size(), 1u);
    EXPECT_EQ(gone[0], a.id);
    // acquire() also drops expired ones and tells the caller to close them.
    auto b = p.acquire(t0() + 7s);
    p.release(b.id, true, t0() + 7s);
    auto c = p.acquire(t0() + 20s);
    EXPECT_FALSE(c.reuse);
    ASSERT_EQ(c.close.size(), 1u);
    EXPECT_EQ(c.close[0], b.id);
}

// ---- follow schedule -------------------------------------------------------------------------------

TEST(FollowSchedule, DoublesToTheCapAndStopsAtTheLimit) {
    auto now = t0();
    follow_schedule f(now, 100s, 500ms, 30s);
    std::vector<duration> waits;
    while (auto d = f.next(now)) {
        waits.push_back(*d);
        now += *d;
    }
    const std::vector<duration> want{500ms, 1s,  2s,  4s,
                                     8s,    16s, 30s, 30s};  // 91.5 s; the next would pass 100 s
    EXPECT_EQ(waits, want);
    EXPECT_EQ(f.consults(), 8);
    EXPECT_FALSE(f.next(now));
}

TEST(FollowSchedule, NoLimitNoConsult) {
    follow_schedule f(t0(), 0s);
    EXPECT_FALSE(f.next(t0()));
    follow_schedule g(t0(), 600ms);
    EXPECT_EQ(g.next(t0()), std::optional<duration>(500ms));
    EXPECT_FALSE(g.next(t0() + 500ms));  // 500 + 1000 ms > 600 ms
}
