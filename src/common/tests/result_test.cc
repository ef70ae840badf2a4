// Tests of result<T>, status and ES_TRY: values, errors, and propagation.
#include "common/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace es {
namespace {

result<int> parse_positive(int v) {
    if (v <= 0)
        return make_error(errc::invalid_argument, "must be positive, got " + std::to_string(v));
    return v;
}

result<int> doubled(int v) {
    auto p = parse_positive(v);
    if (!p) return std::move(p).err();
    return *p * 2;
}

status check_both(int a, int b) {
    ES_TRY(parse_positive(a));
    ES_TRY(parse_positive(b));
    return {};
}

result<std::string> describe(int a) {
    ES_TRY(check_both(a, a));  // a status propagates into a result of another type
    return std::string("ok ") + std::to_string(a);
}

TEST(result_test, holds_a_value) {
    result<int> r = 7;
    ASSERT_TRUE(r);
    EXPECT_TRUE(r.has_value());
    EXPECT_EQ(*r, 7);
    EXPECT_EQ(r.value(), 7);
}

TEST(result_test, holds_an_error_with_code_and_message) {
    result<int> r = parse_positive(-3);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
    EXPECT_EQ(r.err().message, "must be positive, got -3");
    EXPECT_FALSE(r.err().retryable());
}

TEST(result_test, retryable_codes) {
    EXPECT_TRUE(make_error(errc::queue_full, "").retryable());
    EXPECT_TRUE(make_error(errc::shutting_down, "").retryable());
    EXPECT_TRUE(make_error(errc::timed_out, "").retryable());
    EXPECT_FALSE(make_error(errc::not_found, "").retryable());
    EXPECT_FALSE(make_error(errc::config_error, "").retryable());
}

TEST(result_test, move_only_values) {
    result<std::unique_ptr<int>> r = std::make_unique<int>(5);
    ASSERT_TRUE(r);
    std::unique_ptr<int> p = std::move(r).value();
    EXPECT_EQ(*p, 5);
}

TEST(result_test, arrow_reaches_members) {
    result<std::string> r = std::string("abc");
    EXPECT_EQ(r->size(), 3u);
}

TEST(result_test, errors_propagate_by_hand) {
    EXPECT_EQ(*doubled(4), 8);
    auto r = doubled(0);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().message, "must be positive, got 0");
}

TEST(result_test, status_default_is_success) {
    status s;
    EXPECT_TRUE(s);
    EXPECT_TRUE(check_both(1, 2));
}

TEST(result_test, es_try_returns_the_first_error) {
    auto s = check_both(1, -2);
    ASSERT_FALSE(s);
    EXPECT_EQ(s.err().message, "must be positive, got -2");
    auto t = check_both(-1, -2);
    ASSERT_FALSE(t);
    EXPECT_EQ(t.err().message, "must be positive, got -1");
}

TEST(result_test, es_try_crosses_result_types) {
    EXPECT_EQ(*describe(3), "ok 3");
    auto r = describe(-1);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.err().code, errc::invalid_argument);
}

TEST(result_test, errc_names_and_error_code) {
    EXPECT_STREQ(errc_name(errc::queue_full), "queue_full");
    EXPECT_STREQ(errc_name(errc::config_error), "config_error");
    const std::error_code ec = errc::not_found;
    EXPECT_EQ(ec.category().name(), std::string("eventstream"));
    EXPECT_EQ(ec.message(), "not_found");
    EXPECT_EQ(ec, make_error_code(errc::not_found));
}

TEST(result_death_test, value_of_an_error_crashes) {
    result<int> r = make_error(errc::not_found, "x");
    EXPECT_DEATH((void)r.value(), "");
}

}  // namespace
}  // namespace es
