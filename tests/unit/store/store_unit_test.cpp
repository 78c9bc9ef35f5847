// Unit tests of the store's pure pieces: token masking, URL redaction and parsing, token cipher.
#include "store/crypto.hpp"
#include "store/db.hpp"

#include <nubefact/store.hpp>

#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <set>

namespace nubefact::store {
namespace {

TEST(mask_token, keeps_only_the_last_four) {
    EXPECT_EQ(mask_token("0123456789abcdef0123456789abcdef"), "************cdef");
    EXPECT_EQ(mask_token("12345678"), "****5678");
    EXPECT_EQ(mask_token("short"), "****");  // too short to reveal anything
    EXPECT_EQ(mask_token(""), "");
}

TEST(redact_url, hides_passwords) {
    EXPECT_EQ(redact_url("postgresql://app:s3cr3t@db.example:5432/nubefact"),
              "postgresql://app:***@db.example:5432/nubefact");
    EXPECT_EQ(redact_url("postgresql://app@db/nubefact?password=s3cr3t&sslmode=require"),
              "postgresql://app@db/nubefact?password=***&sslmode=require");
    EXPECT_EQ(redact_url("postgresql://db/nubefact"), "postgresql://db/nubefact");
    EXPECT_EQ(redact_url("sqlite:./nubefact.db"), "sqlite:./nubefact.db");
}

TEST(open_store, rejects_bad_urls) {
    std::string why;
    auto r = open_store("mysql://x/y", {}, &why);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), store_errc::bad_url);
    EXPECT_FALSE(why.empty());
    EXPECT_EQ(open_store("sqlite::memory:").error(), store_errc::bad_url);
    EXPECT_EQ(open_store("sqlite:/tmp/x.db?journal=off").error(), store_errc::bad_url);
    auto missing_dir = open_store("sqlite:/nonexistent-dir-nubefact/x.db", {}, &why);
    ASSERT_FALSE(missing_dir);
    EXPECT_EQ(missing_dir.error(), store_errc::open_failed);
}

// What a newcomer types first: a file name. A string with another scheme is still refused.
TEST(open_store, a_bare_path_is_a_sqlite_file) {
    const auto dir = std::filesystem::temp_directory_path() / ("nubefact-bare-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    const auto file = (dir / "plain.db").string();
    store_options o;
    o.secret_key = "";
    auto r = open_store(file, o);
    ASSERT_TRUE(r) << r.error().message();
    r->reset();
    EXPECT_TRUE(std::filesystem::exists(file));
    EXPECT_EQ(open_store("mysql:x").error(), store_errc::bad_url);
    EXPECT_EQ(open_store("ftp://host/x.db").error(), store_errc::bad_url);
    std::filesystem::remove_all(dir);
}

TEST(open_store, postgres_failure_does_not_echo_the_password) {
    std::string why;
    auto r = open_store("postgresql://u:topsecretpw@127.0.0.1:1/db?connect_timeout=2", {}, &why);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), store_errc::open_failed);
    EXPECT_EQ(why.find("topsecretpw"), std::string::npos) << why;
}

TEST(default_store_url, env_then_default) {
    ::unsetenv("NUBEFACT_STORE");
    EXPECT_EQ(default_store_url(), "sqlite:./nubefact.db");
    ::setenv("NUBEFACT_STORE", "postgresql://db/x", 1);
    EXPECT_EQ(default_store_url(), "postgresql://db/x");
    ::unsetenv("NUBEFACT_STORE");
}

TEST(token_cipher, round_trips_and_detects_tampering) {
    auto c = detail::token_cipher::from_secret("a secret");
    ASSERT_TRUE(c);
    auto e1 = c->encrypt("the-token", "acme");
    auto e2 = c->encrypt("the-token", "acme");
    ASSERT_TRUE(e1 && e2);
    EXPECT_TRUE(e1->starts_with("enc:v1:"));
    EXPECT_NE(*e1, *e2);  // fresh nonce each time
    EXPECT_EQ(c->decrypt(*e1, "acme").value(), "the-token");
    EXPECT_EQ(c->decrypt(*e1, "other").error(), store_errc::crypto);  // bound to its account
    std::string bad = *e1;
    bad[10] = bad[10] == 'A' ? 'B' : 'A';
    EXPECT_FALSE(c->decrypt(bad, "acme"));
    auto other = detail::token_cipher::from_secret("another secret");
    EXPECT_FALSE(other->decrypt(*e1, "acme"));
    EXPECT_FALSE(detail::token_cipher::from_secret(""));
    EXPECT_FALSE(c->decrypt("enc:v1:!!!!", "acme"));
    EXPECT_FALSE(c->decrypt("plain", "acme"));
}

TEST(base64, round_trips_every_length) {
    std::string s;
    for (int i = 0; i < 40; ++i) {
        EXPECT_EQ(detail::base64_decode(detail::base64_encode(s)).value(), s);
        s.push_back(static_cast<char>(i * 37));
    }
    EXPECT_FALSE(detail::base64_decode("abc"));
}

}  // namespace
}  // namespace nubefact::store

TEST(sqlite_placeholders, bare_when_in_order_numbered_otherwise) {
    using nubefact::store::detail::to_sqlite_placeholders;
    EXPECT_EQ(to_sqlite_placeholders("INSERT INTO t VALUES ($1, $2), ($3, $4)"),
              "INSERT INTO t VALUES (?, ?), (?, ?)");
    EXPECT_EQ(to_sqlite_placeholders("SELECT $1 WHERE a = $1"), "SELECT ?1 WHERE a = ?1");
    EXPECT_EQ(to_sqlite_placeholders("UPDATE t SET a = $2 WHERE id = $1"),
              "UPDATE t SET a = ?2 WHERE id = ?1");
    EXPECT_EQ(to_sqlite_placeholders("SELECT '$1', $1"), "SELECT '$1', ?");
    EXPECT_EQ(to_sqlite_placeholders("SELECT $10"), "SELECT ?10");
    EXPECT_EQ(to_sqlite_placeholders("SELECT 1"), "SELECT 1");
}
