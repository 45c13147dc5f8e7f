/* test_vrl_fn_misc.c - get_env_var, get_hostname, uuid_v4, sha2, md5,
 * round, floor, ceil and abs: VRL's documented examples and unit cases,
 * the refusal of unknown sha2 variants, and the errors for missing
 * variables and wrong argument types. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ctype.h>
#include <stdlib.h>

#include "tests/unit/vrl_fn_test.h"

#define CHECK(a, name, want, ...) tcheck_json((a), (name), (want), TARGS(__VA_ARGS__))
#define CHECK_FAILS(a, name, want, ...) \
    tcheck_json_fails((a), (name), (want), TARGS(__VA_ARGS__), true)

static void test_get_env_var(void **state)
{
    arena *a = *state;
    setenv("SL_VRL_VAR2", "var", 1);
    setenv("SL_VRL_BAD", "\xff", 1);
    CHECK(a, "get_env_var", "\"var\"", "\"SL_VRL_VAR2\"");
    CHECK_FAILS(a, "get_env_var", "environment variable not found", "\"SL_VRL_VAR1\"");
    CHECK_FAILS(a, "get_env_var", "environment variable not found", "\"=\"");
    CHECK_FAILS(a, "get_env_var", "environment variable not found", "\"\"");
    CHECK_FAILS(a, "get_env_var", "environment variable not found", "\"a=b\"");
    CHECK_FAILS(a, "get_env_var", "environment variable was not valid unicode", "\"SL_VRL_BAD\"");
    CHECK_FAILS(a, "get_env_var", "expected string, got integer", "1");
}

static void test_get_hostname(void **state)
{
    arena *a = *state;
    targs t;
    targs_init(&t);
    value out;
    sl_error err;
    assert_int_equal(tcall(a, "get_hostname", &t, &out, &err), 0);
    assert_int_equal(out.kind, VALUE_BYTES);
    assert_true(out.len > 0);
    assert_memory_equal(out.u.s, sl_hostname(), out.len);
    targs_free(&t);
}

static void test_uuid_v4(void **state)
{
    arena *a = *state;
    targs t;
    targs_init(&t);
    value first, second;
    sl_error err;
    assert_int_equal(tcall(a, "uuid_v4", &t, &first, &err), 0);
    assert_int_equal(tcall(a, "uuid_v4", &t, &second, &err), 0);
    assert_int_equal(first.len, 36);
    for (size_t i = 0; i < 36; i++) {
        char ch = first.u.s[i];
        if (i == 8 || i == 13 || i == 18 || i == 23)
            assert_int_equal(ch, '-');
        else
            assert_true(isxdigit((unsigned char)ch) && !isupper((unsigned char)ch));
    }
    assert_int_equal(first.u.s[14], '4');
    assert_non_null(strchr("89ab", first.u.s[19]));
    assert_memory_not_equal(first.u.s, second.u.s, 36);
    targs_free(&t);
}

static void test_sha2_md5(void **state)
{
    arena *a = *state;
    CHECK(a, "sha2", "\"d014c752bc2be868e16330f47e0c316a5967bcbc9c286a457761d7055b9214ce\"", "\"foobar\"");
    CHECK(a, "sha2", "\"3c9c30d9f665e74d515c842960d4a451c83a0125fd3de7392d7b37231af10c72ea58aedfcdf89a"
          "5765bf902af93ecf06\"", "\"foobar\"", "\"SHA-384\"");
    CHECK(a, "sha2", "\"d58042e6aa5a335e03ad576c6a9e43b41591bfd2077f72dec9df7930e492055d\"", "\"foo\"");
    CHECK(a, "sha2", "\"0808f64e60d58979fcb676c96ec938270dea42445aeefcd3a4e6f8db\"", "\"foo\"", "\"SHA-224\"");
    CHECK(a, "sha2", "\"2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae\"", "\"foo\"",
          "\"SHA-256\"");
    CHECK(a, "sha2", "\"98c11ffdfdd540676b1a137cb1a22b2a70350c9a44171d6b1180c6be5cbb2ee3f79d532c8a1dd9ef2e"
          "8e08e752a3babb\"", "\"foo\"", "\"SHA-384\"");
    CHECK(a, "sha2", "\"f7fbba6e0636f890e56fbbf3283e524c6fa3204ae298382d624741d0dc6638326e282c41be5e4254d88"
          "20772c5518a2c5a8c0c7f7eda19594a7eb539453e1ed7\"", "\"foo\"", "\"SHA-512\"");
    CHECK(a, "sha2", "\"d68f258d37d670cfc1ec1001a0394784233f88f056994f9a7e5e99be\"", "\"foo\"",
          "\"SHA-512/224\"");
    CHECK(a, "sha2", "\"d58042e6aa5a335e03ad576c6a9e43b41591bfd2077f72dec9df7930e492055d\"", "\"foo\"",
          "\"SHA-512/256\"");
    CHECK(a, "md5", "\"acbd18db4cc2f85cedef654fccc4a4d8\"", "\"foo\"");
    CHECK(a, "md5", "\"d41d8cd98f00b204e9800998ecf8427e\"", "\"\"");
    CHECK_FAILS(a, "md5", "expected string, got integer", "1");

    targs t;
    targs_init(&t);
    targ_str(&t, 0, "foo");
    targ_str(&t, 1, "SHA-1");
    assert_compile_fails("sha2", &t, "`variant` must be one of SHA-224, SHA-256, SHA-384, SHA-512, "
                                     "SHA-512/224, SHA-512/256");
    targ_runtime(&t, 1, value_bytes("SHA-256", 7));
    assert_compile_fails("sha2", &t, "`variant` must be a literal string");
    targs_free(&t);
}

static void test_rounding(void **state)
{
    arena *a = *state;
    CHECK(a, "round", "6.0", "5.5");
    CHECK(a, "round", "5.0", "5.45");
    CHECK(a, "round", "5.5", "5.45", "1");
    CHECK(a, "round", "1234.0", "1234.2");
    CHECK(a, "round", "1235.0", "1234.8");
    CHECK(a, "round", "1234", "1234");
    CHECK(a, "round", "1234.4", "1234.39429", "1");
    CHECK(a, "round", "1234.5679", "1234.56789", "4");
    CHECK(a, "round", "-2.0", "-1.5");
    CHECK(a, "floor", "4.0", "4.345");
    CHECK(a, "floor", "4.34", "4.345", "2");
    CHECK(a, "floor", "5", "5");
    CHECK(a, "floor", "1234.3", "1234.39429", "1");
    CHECK(a, "ceil", "5.0", "4.345");
    CHECK(a, "ceil", "4.35", "4.345", "2");
    CHECK(a, "ceil", "5", "5");
    CHECK(a, "ceil", "1235.0", "1234.2");
    CHECK(a, "ceil", "1234.5673", "1234.56725", "4");
    CHECK(a, "round", "1200.0", "1234.5", "-2");
    CHECK(a, "round", "0.0", "1.5", "400");
    CHECK_FAILS(a, "round", "expected float or integer, got string", "\"1.5\"");
    CHECK_FAILS(a, "ceil", "expected integer, got float", "1.5", "1.0");
}

static void test_abs(void **state)
{
    arena *a = *state;
    CHECK(a, "abs", "42", "-42");
    CHECK(a, "abs", "42.2", "-42.2");
    CHECK(a, "abs", "42", "42");
    CHECK(a, "abs", "0.0", "-0.0");
    CHECK(a, "abs", "-9223372036854775808", "-9223372036854775808");
    CHECK_FAILS(a, "abs", "expected float or integer, got null", "null");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        VRL_FN_TEST(test_get_env_var),
        VRL_FN_TEST(test_get_hostname),
        VRL_FN_TEST(test_uuid_v4),
        VRL_FN_TEST(test_sha2_md5),
        VRL_FN_TEST(test_rounding),
        VRL_FN_TEST(test_abs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
