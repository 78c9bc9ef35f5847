// A problem found in a document: where (JSON path), what (stable code), how bad, and the numbers.
#pragma once

#include <string>
#include <vector>

namespace nubefact {

enum class severity { error, warning };

struct finding {
    std::string path;  // JSON path of the field: "items[1].igv", "" for the whole document
    std::string code;  // stable machine code: "mismatch", "required", "catalogue", "parse", …
    severity level = severity::error;
    std::string message;   // one plain sentence for a person
    std::string expected;  // the value the rules give, when there is one ("18.00")
    std::string actual;    // the value the document carries ("17.99"), "" when absent
};

inline bool has_errors(const std::vector<finding>& fs) {
    for (const auto& f : fs)
        if (f.level == severity::error) return true;
    return false;
}

}  // namespace nubefact
