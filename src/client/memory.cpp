// In-memory intent journal and audit sink; also the doc_state names shared with the store.
#include <nubefact/client_memory.hpp>

#include <array>

namespace nubefact {

namespace {
constexpr std::array<std::string_view, 6> state_names = {"pending",  "sending", "accepted",
                                                         "rejected", "failed",  "unknown"};
}

std::string_view to_string(doc_state s) noexcept {
    auto i = static_cast<std::size_t>(s);
    return i < state_names.size() ? state_names[i] : std::string_view{};
}

std::optional<doc_state> doc_state_from_string(std::string_view s) noexcept {
    for (std::size_t i = 0; i < state_names.size(); ++i)
        if (state_names[i] == s) return static_cast<doc_state>(i);
    return std::nullopt;
}

// ---- memory_journal --------------------------------------------------------------------------

memory_journal::memory_journal(std::size_t max_rows, std::size_t details_kept)
    : max_rows_(max_rows == 0 ? 1 : max_rows), details_kept_(details_kept) {}

std::size_t memory_journal::row_key_hash::operator()(const row_key& k) const noexcept {
    std::size_t h = std::hash<std::string>{}(k.account);
    auto mix = [&h](std::size_t v) { h ^= v + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2); };
    mix(std::hash<std::string>{}(k.key.serie));
    mix(static_cast<std::size_t>(k.key.numero));
    mix(static_cast<std::size_t>(k.key.tipo) * 2 + (k.void_family ? 1 : 0));
    return h;
}

intent_record memory_journal::to_record(const row_key& k, const row& r) {
    intent_record out;
    out.what.account = k.account;
    out.what.op = r.op;
    out.what.key = k.key;
    out.what.payload_hash = r.payload_hash;
    out.state = r.state;
    out.attempts = r.attempts;
    out.codigo = r.codigo;
    out.aceptada_por_sunat = r.aceptada_por_sunat;
    if (r.text) {
        out.sunat_responsecode = r.text->sunat_responsecode;
        out.sunat_description = r.text->sunat_description;
        out.sunat_note = r.text->sunat_note;
        out.enlace = r.text->enlace;
        out.enlace_del_pdf = r.text->enlace_del_pdf;
        out.enlace_del_xml = r.text->enlace_del_xml;
        out.enlace_del_cdr = r.text->enlace_del_cdr;
        out.error = r.text->error;
    }
    out.created_at = r.created_at;
    out.updated_at = r.updated_at;
    return out;
}

// Remembers that `k` settled: the row settled details_kept settles ago drops its texts, and the
// oldest settled rows are forgotten while over the bound. An entry counts only while it is its row's
// latest settle (a row settled again lives on at its newer entry).
void memory_journal::settled_locked(const row_key& k, row& r) {
    r.settle = ++settles_;
    settled_.push_back({k, r.settle});
    auto latest = [this](const settled_entry& e) -> row* {
        auto it = rows_.find(e.key);
        if (it == rows_.end() || it->second.settle != e.settle) return nullptr;
        if (it->second.state != doc_state::accepted && it->second.state != doc_state::rejected)
            return nullptr;
        return &it->second;
    };
    if (settled_.size() > details_kept_)
        if (row* old = latest(settled_[settled_.size() - 1 - details_kept_])) old->text.reset();
    while (rows_.size() > max_rows_ && !settled_.empty()) {
        if (latest(settled_.front())) rows_.erase(settled_.front().key);
        settled_.pop_front();
    }
    // Entries of rows settled again or gone: keep the list from outgrowing the map.
    if (settled_.size() > 2 * max_rows_) {
        std::deque<settled_entry> keep;
        for (auto& e : settled_)
            if (latest(e)) keep.push_back(std::move(e));
        settled_.swap(keep);
    }
}

void memory_journal::record(const intent& what, std::function<void(result<record_result>)> done) {
    result<record_result> out = record_result{};
    {
        std::lock_guard lock(mu_);
        if (fail_) {
            out = make_error_code(client_errc::journal);
        } else {
            row_key k{what.account, is_void_operation(what.op), what.key};
            auto [it, created] = rows_.try_emplace(std::move(k));
            if (!created) {
                out = record_result{to_record(it->first, it->second), false};
            } else {
                auto& r = it->second;
                r.op = what.op;
                r.payload_hash = what.payload_hash;  // the payload itself is not kept
                r.state = what.sending ? doc_state::sending : doc_state::pending;
                r.attempts = what.sending ? 1 : 0;
                r.created_at = r.updated_at = std::chrono::system_clock::now();
                auto rec = to_record(it->first, r);
                rec.what.payload = what.payload;  // the caller gets back what it recorded
                out = record_result{std::move(rec), true};
            }
        }
    }
    done(std::move(out));
}

void memory_journal::update(const std::string& account, const document_key& key, const state_update& u,
                            std::function<void(result<void>)> done) {
    result<void> out;
    {
        std::lock_guard lock(mu_);
        row_key k{account, u.op ? is_void_operation(*u.op) : false, key};
        auto it = rows_.find(k);
        if (fail_) {
            out = make_error_code(client_errc::journal);
        } else if (it == rows_.end()) {
            out = make_error_code(store_errc::not_found);
        } else {
            auto& r = it->second;
            r.state = u.state;
            if (u.count_attempt) ++r.attempts;
            if (u.codigo) r.codigo = u.codigo;
            if (u.aceptada_por_sunat) r.aceptada_por_sunat = u.aceptada_por_sunat;
            auto text = [&r](const std::optional<std::string>& v, std::string answer_text::*field) {
                if (!v) return;
                if (!r.text) r.text = std::make_unique<answer_text>();
                (*r.text).*field = *v;
            };
            text(u.sunat_responsecode, &answer_text::sunat_responsecode);
            text(u.sunat_description, &answer_text::sunat_description);
            text(u.sunat_note, &answer_text::sunat_note);
            text(u.enlace, &answer_text::enlace);
            text(u.enlace_del_pdf, &answer_text::enlace_del_pdf);
            text(u.enlace_del_xml, &answer_text::enlace_del_xml);
            text(u.enlace_del_cdr, &answer_text::enlace_del_cdr);
            text(u.error, &answer_text::error);
            r.updated_at = std::chrono::system_clock::now();
            if (r.state == doc_state::accepted || r.state == doc_state::rejected)
                settled_locked(it->first, r);
        }
    }
    done(std::move(out));
}

void memory_journal::find(const std::string& account, const document_key& key,
                          std::function<void(result<std::optional<intent_record>>)> done) {
    find(account, operation::generar_comprobante, key, std::move(done));
}

void memory_journal::find(const std::string& account, operation op, const document_key& key,
                          std::function<void(result<std::optional<intent_record>>)> done) {
    done(get(account, key, op));
}

std::optional<intent_record> memory_journal::get(const std::string& account, const document_key& key,
                                                 operation op) const {
    std::lock_guard lock(mu_);
    auto it = rows_.find(row_key{account, is_void_operation(op), key});
    if (it == rows_.end()) return std::nullopt;
    return to_record(it->first, it->second);
}

std::vector<intent_record> memory_journal::all() const {
    std::lock_guard lock(mu_);
    std::vector<intent_record> out;
    out.reserve(rows_.size());
    for (const auto& [k, v] : rows_) out.push_back(to_record(k, v));
    return out;
}

std::size_t memory_journal::size() const {
    std::lock_guard lock(mu_);
    return rows_.size();
}

void memory_journal::fail_writes(bool on) {
    std::lock_guard lock(mu_);
    fail_ = on;
}

// ---- memory_audit_sink -------------------------------------------------------------------------

memory_audit_sink::memory_audit_sink(std::size_t capacity) : capacity_(capacity == 0 ? 1 : capacity) {}

bool memory_audit_sink::try_write(audit_record&& r) {
    {
        std::lock_guard lock(mu_);
        if (q_.size() >= capacity_) return false;
        q_.push_back(std::move(r));
    }
    cv_.notify_all();
    return true;
}

void memory_audit_sink::wait_for_space(std::function<void()> ready) {
    {
        std::lock_guard lock(mu_);
        if (q_.size() >= capacity_) {
            waiters_.push_back(std::move(ready));
            return;
        }
    }
    ready();
}

std::vector<audit_record> memory_audit_sink::drain() {
    std::vector<audit_record> out;
    std::vector<std::function<void()>> wake;
    {
        std::lock_guard lock(mu_);
        out.assign(std::make_move_iterator(q_.begin()), std::make_move_iterator(q_.end()));
        q_.clear();
        wake.swap(waiters_);
    }
    for (auto& w : wake) w();
    return out;
}

std::size_t memory_audit_sink::size() const {
    std::lock_guard lock(mu_);
    return q_.size();
}

std::size_t memory_audit_sink::waiting_writers() const {
    std::lock_guard lock(mu_);
    return waiters_.size();
}

bool memory_audit_sink::wait_size(std::size_t n, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return q_.size() >= n; });
}

}  // namespace nubefact
