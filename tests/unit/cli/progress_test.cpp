// The progress line: never wider than the terminal, the counts first, the bar only when it fits.
#include "progress.hpp"

#include <gtest/gtest.h>

namespace {

using namespace nubefact;
using namespace nubefact::cli;

TEST(ProgressLine, FitsEveryWidthAndKeepsTheCountsFirst) {
    batch_counters c;
    c.total = 123456;
    c.done = 65432;
    for (int i = 0; i < 60000; ++i) c.add(doc_state::accepted);
    for (auto s : {doc_state::rejected, doc_state::refused, doc_state::unknown, doc_state::pending_sunat})
        for (int i = 0; i < 1234; ++i) c.add(s);
    for (int i = 0; i < 99; ++i) c.add(line_outcome::invalid);
    progress_reporter p(c, stderr, true);
    for (std::size_t w : {20u, 40u, 60u, 80u, 100u, 132u, 200u}) {
        const auto line = p.render(true, w);
        EXPECT_LT(line.size(), w) << w << ": " << line;  // the last column stays free: no wrap
        EXPECT_NE(line.find("65432/123456+"), std::string::npos) << w << ": " << line;
    }
    EXPECT_EQ(p.render(true, 40).find('['), std::string::npos);  // no room for a bar at 40 columns
    const auto wide = p.render(true, 200);
    EXPECT_EQ(wide.front(), '[');
    for (auto part : {"accepted 60000", "pending_sunat 1234", "rejected 1234", "refused 1234", "unknown 1234",
                      "invalid 99", "/s", "ETA"})
        EXPECT_NE(wide.find(part), std::string::npos) << part << ": " << wide;
    // Off a terminal: no bar, no limit.
    EXPECT_EQ(p.render(false).find('['), std::string::npos);
}

}  // namespace
