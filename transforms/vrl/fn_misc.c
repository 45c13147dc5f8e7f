/* fn_misc.c - the remap language's system, hashing and number functions:
 * get_env_var, get_hostname, uuid_v4, sha2, md5, round, floor, ceil and
 * abs.
 *
 * Hashes use OpenSSL's libcrypto (see docs/decisions.md); the digest is
 * fetched once when the program is compiled and its hex text written
 * straight into the arena. Rounding follows VRL: an integer is returned
 * as it is, a float is scaled by 10^precision, rounded and scaled back,
 * and a result that is not a number becomes 0.0. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/evp.h>

#include "transforms/vrl/fn_util.h"

/* ---- get_env_var, get_hostname ----------------------------------------- */

static int get_env_var_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *name;
    size_t n;
    if (vrl_arg_bytes(&args[0], &name, &n, err) < 0)
        return -1;
    if (vrl_utf8_lossy(c->a, &name, &n) < 0)
        return sl_fail(err, "out of memory in get_env_var");
    /* Names that can't be in the environment are simply not there, as in
     * Rust's env::var. */
    if (n == 0 || memchr(name, '=', n) || memchr(name, '\0', n))
        return sl_fail(err, "environment variable not found");
    const char *key = arena_strndup(c->a, name, n);
    if (!key)
        return sl_fail(err, "out of memory in get_env_var");
    const char *v = getenv(key);
    if (!v)
        return sl_fail(err, "environment variable not found");
    size_t vn = strlen(v);
    if (!utf8_valid(v, vn))
        return sl_fail(err, "environment variable was not valid unicode");
    *out = vrl_bytes_copy(c->a, v, vn);
    if (out->kind != VALUE_BYTES)
        return sl_fail(err, "out of memory in get_env_var");
    return 0;
}

static const vrl_param get_env_var_params[] = {
    {"name", K(VALUE_BYTES), true},
};

static const vrl_function fn_get_env_var = {
    .name = "get_env_var",
    .params = get_env_var_params,
    .nparams = SL_ARRAY_LEN(get_env_var_params),
    .returns = K(VALUE_BYTES),
    .fallible = true,
    .call = get_env_var_call,
};

static int get_hostname_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    SL_UNUSED(args);
    SL_UNUSED(err);
    const char *host = sl_hostname();
    *out = value_bytes(host, strlen(host));
    return 0;
}

static const vrl_function fn_get_hostname = {
    .name = "get_hostname",
    .params = NULL,
    .nparams = 0,
    .returns = K(VALUE_BYTES),
    .fallible = true,
    .call = get_hostname_call,
};

/* ---- uuid_v4 ----------------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

static int uuid_v4_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(args);
    unsigned char r[16];
    size_t got = 0;
    while (got < sizeof(r)) {
        ssize_t k = getrandom(r + got, sizeof(r) - got, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return sl_fail(err, "uuid_v4: no random bytes: %s", strerror(errno));
        got += (size_t)k;
    }
    r[6] = (unsigned char)((r[6] & 0x0F) | 0x40);
    r[8] = (unsigned char)((r[8] & 0x3F) | 0x80);
    char *s = arena_alloc(c->a, 36);
    if (!s)
        return sl_fail(err, "out of memory in uuid_v4");
    size_t o = 0;
    for (size_t i = 0; i < sizeof(r); i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            s[o++] = '-';
        s[o++] = hex_digits[r[i] >> 4];
        s[o++] = hex_digits[r[i] & 0x0F];
    }
    *out = value_bytes(s, 36);
    return 0;
}

static const vrl_function fn_uuid_v4 = {
    .name = "uuid_v4",
    .params = NULL,
    .nparams = 0,
    .returns = K(VALUE_BYTES),
    .call = uuid_v4_call,
};

/* ---- sha2, md5 --------------------------------------------------------- */

static void free_digest(void *state)
{
    EVP_MD_free(state);
}

static int fetch_digest(const char *name, void **state, sl_error *err)
{
    EVP_MD *md = EVP_MD_fetch(NULL, name, NULL);
    if (!md)
        return sl_fail(err, "the %s digest is not available", name);
    *state = md;
    return 0;
}

/* VRL's variant names and OpenSSL's. */
static const char *const sha2_variants[][2] = {
    {"SHA-224", "SHA2-224"},
    {"SHA-256", "SHA2-256"},
    {"SHA-384", "SHA2-384"},
    {"SHA-512", "SHA2-512"},
    {"SHA-512/224", "SHA2-512/224"},
    {"SHA-512/256", "SHA2-512/256"},
};

static int sha2_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    const char *v = "SHA-512/256";
    size_t n = strlen(v);
    if (args[1].present && !vrl_const_bytes(&args[1], &v, &n))
        return sl_fail(err, "`variant` must be a literal string");
    for (size_t i = 0; i < SL_ARRAY_LEN(sha2_variants); i++)
        if (strlen(sha2_variants[i][0]) == n && memcmp(sha2_variants[i][0], v, n) == 0)
            return fetch_digest(sha2_variants[i][1], state, err);
    return sl_fail(err, "`variant` must be one of SHA-224, SHA-256, SHA-384, SHA-512, "
                        "SHA-512/224, SHA-512/256");
}

static int md5_compile(const vrl_const_arg *args, void **state, sl_error *err)
{
    SL_UNUSED(args);
    return fetch_digest("MD5", state, err);
}

static int digest_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    const char *s;
    size_t n;
    if (vrl_arg_bytes(&args[0], &s, &n, err) < 0)
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (!EVP_Digest(s, n, md, &mdlen, c->state, NULL))
        return sl_fail(err, "hashing failed");
    char *hex = arena_alloc(c->a, 2 * (size_t)mdlen);
    if (!hex)
        return sl_fail(err, "out of memory hashing");
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = hex_digits[md[i] >> 4];
        hex[2 * i + 1] = hex_digits[md[i] & 0x0F];
    }
    *out = value_bytes(hex, 2 * (size_t)mdlen);
    return 0;
}

static const vrl_param sha2_params[] = {
    {"value", K(VALUE_BYTES), true},
    {"variant", K(VALUE_BYTES), false},
};

static const vrl_function fn_sha2 = {
    .name = "sha2",
    .params = sha2_params,
    .nparams = SL_ARRAY_LEN(sha2_params),
    .returns = K(VALUE_BYTES),
    .compile = sha2_compile,
    .free_state = free_digest,
    .call = digest_call,
};

static const vrl_param md5_params[] = {
    {"value", K(VALUE_BYTES), true},
};

static const vrl_function fn_md5 = {
    .name = "md5",
    .params = md5_params,
    .nparams = SL_ARRAY_LEN(md5_params),
    .returns = K(VALUE_BYTES),
    .compile = md5_compile,
    .free_state = free_digest,
    .call = digest_call,
};

/* ---- round, floor, ceil, abs ------------------------------------------- */

static int round_with(const vrl_arg *args, double (*fn)(double), value *out, sl_error *err)
{
    int64_t precision;
    if (vrl_arg_opt_int(&args[1], 0, &precision, err) < 0)
        return -1;
    const value *v = &args[0].val;
    if (v->kind == VALUE_INT) {
        *out = *v;
        return 0;
    }
    if (v->kind != VALUE_FLOAT)
        return vrl_expected(err, K(VALUE_FLOAT) | K(VALUE_INT), v);
    double scale = pow(10.0, (double)precision);
    double r = fn(v->u.f * scale) / scale;
    *out = value_float(isnan(r) ? 0.0 : r);
    return 0;
}

static int round_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    return round_with(args, round, out, err);
}

static int floor_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    return round_with(args, floor, out, err);
}

static int ceil_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    return round_with(args, ceil, out, err);
}

static const vrl_param round_params[] = {
    {"value", K(VALUE_INT) | K(VALUE_FLOAT), true},
    {"precision", K(VALUE_INT), false},
};

static const vrl_function fn_round = {
    .name = "round",
    .params = round_params,
    .nparams = SL_ARRAY_LEN(round_params),
    .returns = K(VALUE_INT) | K(VALUE_FLOAT),
    .call = round_call,
};

static const vrl_function fn_floor = {
    .name = "floor",
    .params = round_params,
    .nparams = SL_ARRAY_LEN(round_params),
    .returns = K(VALUE_INT) | K(VALUE_FLOAT),
    .call = floor_call,
};

static const vrl_function fn_ceil = {
    .name = "ceil",
    .params = round_params,
    .nparams = SL_ARRAY_LEN(round_params),
    .returns = K(VALUE_INT) | K(VALUE_FLOAT),
    .call = ceil_call,
};

static int abs_call(const vrl_call *c, const vrl_arg *args, value *out, sl_error *err)
{
    SL_UNUSED(c);
    const value *v = &args[0].val;
    if (v->kind == VALUE_INT) {
        /* Two's complement wrap for the one integer without a positive
         * counterpart, as Rust's i64::abs does in release builds. */
        uint64_t u = v->u.i < 0 ? 0 - (uint64_t)v->u.i : (uint64_t)v->u.i;
        *out = value_int((int64_t)u);
        return 0;
    }
    if (v->kind != VALUE_FLOAT)
        return vrl_expected(err, K(VALUE_FLOAT) | K(VALUE_INT), v);
    *out = value_float(fabs(v->u.f));
    return 0;
}

static const vrl_param abs_params[] = {
    {"value", K(VALUE_INT) | K(VALUE_FLOAT), true},
};

static const vrl_function fn_abs = {
    .name = "abs",
    .params = abs_params,
    .nparams = SL_ARRAY_LEN(abs_params),
    .returns = K(VALUE_INT) | K(VALUE_FLOAT),
    .call = abs_call,
};

const vrl_function *const vrl_misc_functions[] = {
    &fn_get_env_var,
    &fn_get_hostname,
    &fn_uuid_v4,
    &fn_sha2,
    &fn_md5,
    &fn_round,
    &fn_floor,
    &fn_ceil,
    &fn_abs,
    NULL,
};
