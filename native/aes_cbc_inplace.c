/*
 * AES-CBC encryption in place, for the Node CMS adapter (src/lib/server/crypto/aes-cbc-native.ts).
 *
 * Why native: node:crypto's Cipher.update always allocates its output, and on a multi-MiB lot
 * that fresh memory (page faults, kernel zeroing) costs a third of OpenSSL's speed; WebCrypto
 * copies the input as well. Encrypting the caller's own buffer, which it hands over, runs at
 * OpenSSL's full speed and needs no second copy of the file in memory.
 *
 * OpenSSL comes from the node binary itself (Node exports its EVP symbols for addons), so the
 * addon needs Node's headers only, and uses the same OpenSSL as node:crypto.
 *
 * JS: encryptInPlace(key: Uint8Array(16|24|32), iv: Uint8Array(16), data: Uint8Array,
 *                    tail: Uint8Array(16)) → number
 *   Encrypts the whole blocks of `data` in place, writes the last block (the remaining bytes
 *   plus PKCS #7 padding, encrypted) into `tail`, zeroes the remaining bytes in `data`, and
 *   returns the number of bytes encrypted in place (a multiple of 16). The ciphertext is
 *   data[0..n) followed by tail. Bad arguments throw TypeError or RangeError; nothing written.
 */
#include <node_api.h>
#include <openssl/evp.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#define AES_BLOCK 16
/* EVP_EncryptUpdate takes an int length: process in slices below INT_MAX. */
#define SLICE ((size_t)1 << 30)

static int bytes_arg(napi_env env, napi_value v, const char *name, unsigned char **p, size_t *len) {
  bool is_ta = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  void *data;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, len, &data, &ab, &offset) != napi_ok || type != napi_uint8_array) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: Uint8Array attendu", name);
    napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
    return 0;
  }
  *p = data;
  return 1;
}

static napi_value fail(napi_env env, EVP_CIPHER_CTX *ctx, const char *msg) {
  if (ctx) EVP_CIPHER_CTX_free(ctx);
  napi_throw_error(env, "ERR_OPENSSL", msg);
  return NULL;
}

static napi_value encrypt_in_place(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc != 4) {
    napi_throw_type_error(env, "ERR_MISSING_ARGS", "encryptInPlace(key, iv, data, tail)");
    return NULL;
  }
  unsigned char *key, *iv, *data, *tail;
  size_t key_len, iv_len, data_len, tail_len;
  if (!bytes_arg(env, argv[0], "key", &key, &key_len) || !bytes_arg(env, argv[1], "iv", &iv, &iv_len) ||
      !bytes_arg(env, argv[2], "data", &data, &data_len) || !bytes_arg(env, argv[3], "tail", &tail, &tail_len))
    return NULL;

  const EVP_CIPHER *cipher = key_len == 16 ? EVP_aes_128_cbc() : key_len == 24 ? EVP_aes_192_cbc() : key_len == 32 ? EVP_aes_256_cbc() : NULL;
  if (!cipher) {
    napi_throw_range_error(env, "ERR_CRYPTO_INVALID_KEYLEN", "taille de clé AES invalide (16, 24 ou 32 octets)");
    return NULL;
  }
  if (iv_len != AES_BLOCK || tail_len != AES_BLOCK) {
    napi_throw_range_error(env, "ERR_CRYPTO_INVALID_IV", "iv et tail doivent faire 16 octets");
    return NULL;
  }
  /* In place means exactly the same bytes: a tail inside data would be overwritten midway. */
  if (tail + AES_BLOCK > data && tail < data + data_len) {
    napi_throw_range_error(env, "ERR_INVALID_ARG_VALUE", "tail ne doit pas chevaucher data");
    return NULL;
  }

  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (!ctx || EVP_EncryptInit_ex(ctx, cipher, NULL, key, iv) != 1) return fail(env, ctx, "EVP_EncryptInit_ex");
  size_t whole = data_len - data_len % AES_BLOCK;
  for (size_t done = 0; done < whole;) {
    size_t n = whole - done < SLICE ? whole - done : SLICE;
    int out = 0;
    /* OpenSSL allows in == out exactly; with whole blocks nothing is buffered, out == n. */
    if (EVP_EncryptUpdate(ctx, data + done, &out, data + done, (int)n) != 1 || (size_t)out != n)
      return fail(env, ctx, "EVP_EncryptUpdate");
    done += n;
  }
  int out = 0, fin = 0;
  size_t rest = data_len - whole;
  if ((rest > 0 && EVP_EncryptUpdate(ctx, tail, &out, data + whole, (int)rest) != 1) || out != 0 ||
      EVP_EncryptFinal_ex(ctx, tail, &fin) != 1 || fin != AES_BLOCK)
    return fail(env, ctx, "EVP_EncryptFinal_ex");
  EVP_CIPHER_CTX_free(ctx);
  if (rest > 0) memset(data + whole, 0, rest);

  napi_value result;
  if (napi_create_double(env, (double)whole, &result) != napi_ok) return NULL;
  return result;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  if (napi_create_function(env, "encryptInPlace", NAPI_AUTO_LENGTH, encrypt_in_place, NULL, &fn) != napi_ok ||
      napi_set_named_property(env, exports, "encryptInPlace", fn) != napi_ok)
    return NULL;
  return exports;
}
