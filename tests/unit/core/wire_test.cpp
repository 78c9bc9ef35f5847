// Nubefact's HTTP conventions shared by the emulator and the gateway: every Authorization form, the
// JSON content type, constant-time comparison.
#include <nubefact/wire.hpp>

#include <gtest/gtest.h>

using namespace nubefact::wire;

namespace {
std::string token_of(std::string_view v) {
    auto a = parse_authorization(v);
    return a ? std::string(a->token) : std::string("<none>");
}
}  // namespace

TEST(wire, authorization_forms) {
    EXPECT_EQ(token_of("abc123"), "abc123");
    EXPECT_EQ(parse_authorization("abc123")->form, auth_form::bare);
    EXPECT_EQ(token_of("  abc123 "), "abc123");
    EXPECT_EQ(token_of("Token token=\"abc\""), "abc");
    EXPECT_EQ(parse_authorization("Token token=\"abc\"")->form, auth_form::token_quoted);
    EXPECT_EQ(token_of("Token token=abc"), "abc");
    EXPECT_EQ(parse_authorization("Token token=abc")->form, auth_form::token_unquoted);
    EXPECT_EQ(token_of("token TOKEN=\"abc\""), "abc");
    EXPECT_EQ(token_of("Token abc"), "abc");
    EXPECT_EQ(parse_authorization("Token abc")->form, auth_form::token_plain);
    EXPECT_EQ(token_of("Bearer abc"), "abc");
    EXPECT_EQ(parse_authorization("Bearer abc")->form, auth_form::bearer);
    EXPECT_EQ(token_of("bearer   abc"), "abc");
    EXPECT_EQ(token_of("Token\ttoken=abc"), "abc");
}

TEST(wire, authorization_without_a_token) {
    EXPECT_EQ(token_of(""), "<none>");
    EXPECT_EQ(token_of("   "), "<none>");
    EXPECT_EQ(token_of("Basic YWJj"), "<none>");
    EXPECT_EQ(token_of("Token"), "Token");  // one word: read as a bare token
    EXPECT_EQ(token_of("Token token=\"\""), "<none>");
    EXPECT_EQ(token_of("Token token="), "<none>");
    EXPECT_EQ(token_of("Bearer "), "Bearer");  // trimmed to one word: a bare token
}

TEST(wire, content_type) {
    EXPECT_TRUE(json_content_type("application/json"));
    EXPECT_TRUE(json_content_type("Application/JSON"));
    EXPECT_TRUE(json_content_type("application/json; charset=utf-8"));
    EXPECT_TRUE(json_content_type("application/json;charset=\"UTF-8\""));
    EXPECT_FALSE(json_content_type("application/json; charset=iso-8859-1"));
    EXPECT_FALSE(json_content_type("text/plain"));
    EXPECT_FALSE(json_content_type("application/jsonx"));
    EXPECT_FALSE(json_content_type(""));
}

TEST(wire, constant_time_equal) {
    EXPECT_TRUE(equal_ct("abc", "abc"));
    EXPECT_FALSE(equal_ct("abc", "abd"));
    EXPECT_FALSE(equal_ct("abc", "ab"));
    EXPECT_FALSE(equal_ct("", "a"));
    EXPECT_TRUE(equal_ct("", ""));
}
