// The client's two persistence seams: the intent journal (exactly-once) and the audit sink.
// In-memory implementations live in the client; the store provides the durable ones.
#pragma once

#include <nubefact/document.hpp>
#include <nubefact/error.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace nubefact {

// A document's state: one set of names everywhere (summary, --json, results file, store, status).
//   queued        journaled, not yet sent
//   sending       intent journaled, may be on the wire (a resume consults first)
//   pending_sunat Nubefact has it, SUNAT's answer is not final yet (ticket, boleta, guía)
//   accepted      SUNAT accepted it                                       (final)
//   rejected      SUNAT rejected it: the number is used                   (final)
//   refused       Nubefact answered a codigo and did not create it: fix and resend the same number
//   unknown       Nubefact may have it; a resume consults before any resend
//   conflict      Nubefact holds a different document under this number   (final)
//   failed        never delivered (no answer, nothing created): run again
enum class doc_state {
    queued,
    sending,
    pending_sunat,
    accepted,
    rejected,
    refused,
    unknown,
    conflict,
    failed
};
inline constexpr doc_state all_doc_states[] = {
    doc_state::queued,   doc_state::sending,  doc_state::pending_sunat,
    doc_state::accepted, doc_state::rejected, doc_state::refused,
    doc_state::unknown,  doc_state::conflict, doc_state::failed};
// The state's name; doc_state_from_string() reads it back (nullopt for any other text).
std::string_view to_string(doc_state s) noexcept;
std::optional<doc_state> doc_state_from_string(std::string_view s) noexcept;
// What a person does about a document in state `s`, in one line (summaries, status, dashboard).
std::string_view advice(doc_state s) noexcept;
// accepted, rejected, conflict: nothing more happens to the document.
bool is_final(doc_state s) noexcept;
// Nubefact said it does not hold the document (refused, failed): a corrected payload may be sent
// under the same number. Any other state (queued included: another sender may be about to send it):
// it may exist, its payload is fixed.
bool may_resend_corrected(doc_state s) noexcept;

// What the client means to send, recorded before the first byte leaves.
struct intent {
    std::string account;
    operation op = operation::generar_comprobante;
    document_key key;
    std::string payload_hash;  // hex SHA-256 of the canonical payload
    std::string payload;       // canonical JSON (the store may keep it for resend/resume)
    // Recorded as `sending` with its first attempt counted: the caller sends right after the record
    // is durable, so one commit marks both "meant" and "maybe sent" (a resume consults first).
    bool sending = false;
};

// What the journal knows about a document.
struct intent_record {
    intent what;
    doc_state state = doc_state::queued;
    int attempts = 0;
    std::optional<int> codigo;  // Nubefact error codigo, if any
    std::optional<bool> aceptada_por_sunat;
    std::string sunat_responsecode, sunat_description, sunat_note;
    std::string enlace, enlace_del_pdf, enlace_del_xml, enlace_del_cdr;
    std::string cadena_para_codigo_qr, codigo_hash;  // what a receipt prints (QR and hash)
    std::string error;                               // last error text (never a token)
    std::chrono::system_clock::time_point created_at, updated_at;
    // The claim: which sender holds the document now (empty: nobody), until when, and the fencing
    // token of the latest claim (it grows with every claim; a settle names it).
    std::string owner;
    std::chrono::system_clock::time_point lease_until;
    std::int64_t lease_token = 0;
};

// A state change; fields left empty keep their stored value.
struct state_update {
    doc_state state = doc_state::sending;
    bool count_attempt = false;
    std::optional<int> codigo;
    std::optional<bool> aceptada_por_sunat;
    std::optional<std::string> sunat_responsecode, sunat_description, sunat_note;
    std::optional<std::string> enlace, enlace_del_pdf, enlace_del_xml, enlace_del_cdr;
    std::optional<std::string> cadena_para_codigo_qr, codigo_hash;
    std::optional<std::string> error;
    // Fencing: the lease token record() returned. The change applies only while that claim is the
    // row's latest (a sender whose lease passed to another cannot overwrite a newer state). Empty: no
    // fencing (a consultation's answer about a document nobody sends, e.g. following pending_sunat).
    std::optional<std::int64_t> lease;
    // Which journal row: a void operation (generar_anulacion, generar_reversion_*) addresses the
    // anulación's own row; anything else (the default) the document itself.
    std::optional<operation> op;
};

// The texts of Nubefact's answer the journal keeps, in one list that the client, the memory journal
// and the store go through: f(name, get) for each, get(x) being x's member of that name (a string in
// intent_record, an optional one in state_update and in Nubefact's answer, nubefact::response).
inline constexpr std::size_t answer_text_count = 9;
template <class F>
constexpr void for_each_answer_text(F&& f) {
    f(
        "sunat_responsecode", [](auto& x) -> auto& { return x.sunat_responsecode; });
    f(
        "sunat_description", [](auto& x) -> auto& { return x.sunat_description; });
    f(
        "sunat_note", [](auto& x) -> auto& { return x.sunat_note; });
    f(
        "enlace", [](auto& x) -> auto& { return x.enlace; });
    f(
        "enlace_del_pdf", [](auto& x) -> auto& { return x.enlace_del_pdf; });
    f(
        "enlace_del_xml", [](auto& x) -> auto& { return x.enlace_del_xml; });
    f(
        "enlace_del_cdr", [](auto& x) -> auto& { return x.enlace_del_cdr; });
    f(
        "cadena_para_codigo_qr", [](auto& x) -> auto& { return x.cadena_para_codigo_qr; });
    f(
        "codigo_hash", [](auto& x) -> auto& { return x.codigo_hash; });
}

// Anulaciones/reversiones share the key of the document they void, so the journal keeps them in a
// separate row family: "void" for those operations, "emit" for every other one.
inline bool is_void_operation(operation op) noexcept {
    return traits(op).voids;
}

// Completion callbacks may run on any thread (the store's writer thread); the caller re-dispatches
// to its own executor. Implementations are thread-safe.
class intent_journal {
  public:
    virtual ~intent_journal() = default;
    // Records the intent durably and claims the document for this journal's owner (one sender of
    // one process), all in one commit. A new row is created claimed. A journaled row is claimed when
    // nobody holds it (no owner, or its lease expired: its owner died) and it may still be sent: the
    // same payload in a state that is not final, or a corrected payload (other hash) in a state
    // Nubefact does not hold (may_resend_corrected), which then replaces the stored one. Otherwise
    // nothing is written and the stored record is returned: other hash = the payload changed; not
    // claimed and not final = another live sender holds it (wait, never send). A live owner's leases
    // are renewed by the journal while it is open; a settle (a state other than sending) releases
    // the claim. Errors: the journal failed; nothing was claimed.
    struct record_result {
        intent_record record;
        bool created = false;    // a new row, or a corrected payload replaced the stored one
        bool replaced = false;   // created by replacing a stored payload (Nubefact did not hold it)
        bool claimed = false;    // this caller holds the document now and may send it
        std::int64_t lease = 0;  // the claim's fencing token (state_update::lease), when claimed
    };
    virtual void record(const intent& what, std::function<void(result<record_result>)> done) = 0;
    // Applies `u` to the row. Forward only: a row in a final state (accepted, rejected, conflict)
    // never leaves it (an update to the same state may add its texts); with u.lease, only while that
    // claim is the row's latest. Errors:
    // store_errc::not_found when nothing changed (no such row, final, or fenced out).
    // update() must copy what it keeps of `account`, `key` and `u` before it returns: the client writes
    // the final state behind, without waiting for `done`, and its arguments are gone by then.
    virtual void update(const std::string& account, const document_key& key, const state_update& u,
                        std::function<void(result<void>)> done) = 0;
    virtual void find(const std::string& account, const document_key& key,
                      std::function<void(result<std::optional<intent_record>>)> done) = 0;
    // As find(), for the row family of `op` (see is_void_operation). The default ignores `op`.
    virtual void find(const std::string& account, operation op, const document_key& key,
                      std::function<void(result<std::optional<intent_record>>)> done) {
        (void)op;
        find(account, key, std::move(done));
    }
};

// One HTTP exchange with Nubefact (or the emulator). Never carries the token.
struct audit_record {
    std::chrono::system_clock::time_point at;
    std::string account;
    std::string operation;  // "generar_comprobante", …
    std::string document;   // "FFF1-1" (document_key::to_string), "" when none
    int attempt = 1;
    int http_status = 0;  // 0 when no response arrived
    std::optional<int> codigo;
    std::string outcome;  // "ok", "api_error", "timeout", "transport", …
    std::chrono::microseconds latency{0};
    std::size_t request_bytes = 0, response_bytes = 0;
    std::string request_body, response_body;  // only when bodies are enabled; token-free
};

// Non-blocking sink. try_write() accepts the record or returns false when full; the caller then
// waits with wait_for_space() (the callback runs once there is room, on any thread) and tries
// again: back-pressure, never a silent drop. Thread-safe.
class audit_sink {
  public:
    virtual ~audit_sink() = default;
    virtual bool try_write(audit_record&& r) = 0;
    virtual void wait_for_space(std::function<void()> ready) = 0;
};

}  // namespace nubefact
