/* pv_db: PreviewDBParams parsing (pure), and the pool and statements against
 * a real MariaDB named by PV_DB_SOCKET, PV_DB_USER, PV_DB_PASS, PV_DB_NAME
 * (tests/mariadb start DIR writes them to DIR/env). Without them the DB
 * tests fail, naming the missing variable. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>

#include <check.h>
#include <apr_general.h>
#include <apr_strings.h>
#include <apr_thread_proc.h>
#include <apr_thread_mutex.h>
#include <apr_time.h>
#include <mysql.h>

#include "pv_db.h"
#include "pv_log.h"

static apr_pool_t *pool;

static void setup_pool(void)
{
    apr_pool_create(&pool, NULL);
}

static void teardown_pool(void)
{
    apr_pool_destroy(pool);
}

/* ------------------------------------------------------------------------ */
/* Parameters */

static const char *parse_err(const char *text)
{
    pv_db_params_t *params = NULL;
    const char *err = NULL;
    apr_status_t rv = pv_db_params_parse(&params, &err, text, pool);

    ck_assert_int_eq(rv, APR_EINVAL);
    ck_assert_ptr_null(params);
    ck_assert_ptr_nonnull(err);
    return err;
}

static pv_db_params_t *parse_ok(const char *text)
{
    pv_db_params_t *params = NULL;
    const char *err = NULL;
    apr_status_t rv = pv_db_params_parse(&params, &err, text, pool);

    ck_assert_msg(rv == APR_SUCCESS, "'%s': %s", text, err ? err : "?");
    ck_assert_ptr_nonnull(params);
    return params;
}

START_TEST(params_all_keys)
{
    pv_db_params_t *pa =
        parse_ok("host=db.example port=3307 user=app pass=s3cret dbname=drive "
                 "connecttimeout=2 readtimeout=5 writetimeout=6");

    ck_assert_str_eq(pv_db_params_str(pa, pool),
                     "host=db.example port=3307 user=app pass=*** "
                     "dbname=drive connecttimeout=2 readtimeout=5 "
                     "writetimeout=6");
    ck_assert_uint_eq(pv_db_params_connect_timeout(pa), 2);
}
END_TEST

START_TEST(params_separators)
{
    /* apr_dbd_mysql's separators, and "key = value" */
    pv_db_params_t *pa =
        parse_ok("sock=/run/mysqld/mysqld.sock,user=u;pass=p|dbname = d\n"
                 "\tconnecttimeout=1\r\n");

    ck_assert_str_eq(pv_db_params_str(pa, pool),
                     "sock=/run/mysqld/mysqld.sock user=u pass=*** dbname=d "
                     "connecttimeout=1");
}
END_TEST

START_TEST(params_defaults)
{
    pv_db_params_t *pa = parse_ok("");

    ck_assert_str_eq(pv_db_params_str(pa, pool), "(defaults)");
    ck_assert_uint_eq(pv_db_params_connect_timeout(pa), 3);
    pa = parse_ok("user=u pass=");
    ck_assert_str_eq(pv_db_params_str(pa, pool), "user=u pass=***");
    /* any ssl_* key: TLS, the certificate checked unless ssl_verify=off */
    pa = parse_ok("host=db ssl_ca=/ca.pem ssl_cert=/c.pem ssl_key=/k.pem");
    ck_assert_int_eq(pv_db_params_tls(pa), 1);
    ck_assert_str_eq(pv_db_params_str(pa, pool), "host=db tls");
    ck_assert_int_eq(
        pv_db_params_equal(pa, parse_ok("host=db ssl_ca=/ca.pem "
                                        "ssl_cert=/c.pem ssl_key=/k.pem")),
        1);
    ck_assert_int_eq(
        pv_db_params_equal(pa, parse_ok("host=db ssl_ca=/ca.pem "
                                        "ssl_cert=/c.pem ssl_key=/k.pem "
                                        "ssl_verify=off")),
        0);
    pa = parse_ok("host=db ssl_verify=off");
    ck_assert_str_eq(pv_db_params_str(pa, pool), "host=db tls(noverify)");
    ck_assert_int_eq(pv_db_params_tls(parse_ok("host=db")), 0);
}
END_TEST

START_TEST(params_unknown_key)
{
    ck_assert_str_eq(parse_err("host=a colour=blue"),
                     "unknown key 'colour' (known: host port user pass "
                     "dbname sock connecttimeout readtimeout writetimeout "
                     "ssl_ca ssl_capath ssl_cert ssl_key ssl_cipher "
                     "ssl_verify group)");
    /* mod_dbd's keys that mean nothing here: refused, naming why */
    ck_assert_str_eq(parse_err("host=a reconnect=1"),
                     "key 'reconnect' is not supported: the module "
                     "reconnects itself (the library's reconnect would drop "
                     "the prepared statements)");
    ck_assert_str_eq(parse_err("fldsz=10"),
                     "key 'fldsz' is not supported: no BLOB column is "
                     "fetched");
    ck_assert_str_eq(parse_err("ssl_ca=/ca.pem ssl_verify=maybe"),
                     "key 'ssl_verify': 'maybe' is not on or off");
    ck_assert_str_eq(parse_err("host"), "expected key=value, found 'host'");
    ck_assert_str_eq(parse_err("=x"), "expected key=value, found '=x'");
}
END_TEST

START_TEST(params_bad_numbers)
{
    ck_assert_str_eq(parse_err("port=0"),
                     "key 'port': '0' is not a number from 1 to 65535");
    ck_assert_str_eq(parse_err("port=65536"),
                     "key 'port': '65536' is not a number from 1 to 65535");
    ck_assert_str_eq(parse_err("port=33o6"),
                     "key 'port': '33o6' is not a number from 1 to 65535");
    ck_assert_str_eq(parse_err("port="),
                     "key 'port': '' is not a number from 1 to 65535");
    ck_assert_str_eq(parse_err("connecttimeout=0"),
                     "key 'connecttimeout': '0' is not a number from 1 to "
                     "3600 (seconds)");
    ck_assert_str_eq(parse_err("readtimeout=3601"),
                     "key 'readtimeout': '3601' is not a number from 1 to "
                     "3600 (seconds)");
    ck_assert_str_eq(parse_err("writetimeout=-1"),
                     "key 'writetimeout': '-1' is not a number from 1 to "
                     "3600 (seconds)");
    ck_assert_str_eq(
        parse_err("port=99999999999999999999999"),
        "key 'port': '99999999999999999999' is not a number from 1 to 65535");
    parse_ok("port=1 connecttimeout=3600");
    parse_ok("port=65535");
}
END_TEST

START_TEST(params_twice_and_empty)
{
    ck_assert_str_eq(parse_err("host=a host=b"), "key 'host' given twice");
    ck_assert_str_eq(parse_err("port=1 port=1"), "key 'port' given twice");
    ck_assert_str_eq(parse_err("pass=a pass=b"), "key 'pass' given twice");
    ck_assert_str_eq(parse_err("dbname= user=x"),
                     "key 'dbname' has an empty value");
}
END_TEST

START_TEST(params_password_never_shown)
{
    const char *e;

    /* a password with a separator: its tail must not appear */
    e = parse_err("user=u pass=top secret");
    ck_assert_ptr_null(strstr(e, "secret"));
    ck_assert_str_eq(e, "unexpected text after the value of 'pass' (a "
                        "password cannot contain spaces, tabs, newlines, "
                        "',', ';' or '|')");
    e = parse_err("pass=top,secret=1");
    ck_assert_ptr_null(strstr(e, "secret"));
    /* a known key right after the password is fine */
    parse_ok("pass=top host=h");
    /* errors on other keys never carry it either */
    e = parse_err("pass=hunter2 port=x");
    ck_assert_ptr_null(strstr(e, "hunter2"));
    ck_assert_ptr_null(
        strstr(pv_db_params_str(parse_ok("pass=hunter2"), pool), "hunter2"));
}
END_TEST

START_TEST(params_equal)
{
    ck_assert(pv_db_params_equal(parse_ok("host=a user=u pass=p"),
                                 parse_ok("user=u,pass=p,host=a")));
    ck_assert(pv_db_params_equal(parse_ok("connecttimeout=3"), parse_ok("")));
    ck_assert(!pv_db_params_equal(parse_ok("host=a pass=p"),
                                  parse_ok("host=a pass=q")));
    ck_assert(
        !pv_db_params_equal(parse_ok("host=a"), parse_ok("host=a port=3306")));
}
END_TEST

/* ------------------------------------------------------------------------ */
/* Against MariaDB */

#define U_MAX    "18446744073709551615" /* 2^64-1 */
#define I_MAX    "18446744073709551614"
#define ID_ALICE 18446744073709551615ULL
#define ID_BOB   18446744073709551600ULL
#define IMG_A1   18446744073709551614ULL /* alice's, path a/1.jpg */
#define IMG_B1   18446744073709551613ULL /* bob's */
#define IMG_NONE 18446744073709551612ULL

static const char *env_socket, *env_user, *env_pass, *env_name;

/* NULL when all are set, else the first missing variable. */
static const char *db_env_missing(void)
{
    static const char *names[] = {"PV_DB_SOCKET", "PV_DB_USER", "PV_DB_PASS",
                                  "PV_DB_NAME"};
    const char **vals[] = {&env_socket, &env_user, &env_pass, &env_name};
    int i;

    for (i = 0; i < 4; i++) {
        *vals[i] = getenv(names[i]);
        if (!*vals[i] || (!**vals[i] && i != 2)) {
            return names[i];
        }
    }
    return NULL;
}

static void require_db(void)
{
    const char *missing = db_env_missing();

    ck_assert_msg(missing == NULL,
                  "%s is not set: run 'tests/mariadb start DIR' and export "
                  "the variables of DIR/env (PV_DB_SOCKET PV_DB_USER "
                  "PV_DB_PASS PV_DB_NAME)",
                  missing);
}

static MYSQL *admin_connect(void)
{
    MYSQL *m = mysql_init(NULL);

    ck_assert_ptr_nonnull(m);
    ck_assert_msg(mysql_real_connect(m, NULL, env_user, env_pass, env_name, 0,
                                     env_socket, CLIENT_MULTI_STATEMENTS),
                  "admin connect: %s", mysql_error(m));
    mysql_set_character_set(m, "utf8mb4");
    return m;
}

static void sql(MYSQL *m, const char *q)
{
    ck_assert_msg(mysql_query(m, q) == 0, "%s: %s", q, mysql_error(m));
    /* drain results of multi statements */
    do {
        MYSQL_RES *r = mysql_store_result(m);
        if (r) {
            mysql_free_result(r);
        }
    } while (mysql_next_result(m) == 0);
}

static unsigned long long sql_u64(MYSQL *m, const char *q)
{
    MYSQL_RES *r;
    MYSQL_ROW row;
    unsigned long long v;

    ck_assert_msg(mysql_query(m, q) == 0, "%s: %s", q, mysql_error(m));
    r = mysql_store_result(m);
    ck_assert_ptr_nonnull(r);
    row = mysql_fetch_row(r);
    ck_assert_ptr_nonnull(row);
    v = strtoull(row[0], NULL, 10);
    mysql_free_result(r);
    return v;
}

static MYSQL *admin;

/* Our rows live at the top of the id space, apart from anyone else's. */
static void setup_db(void)
{
    char *q;

    setup_pool();
    require_db();
    admin = admin_connect();
    sql(admin,
        "CREATE TABLE IF NOT EXISTS users (id BIGINT UNSIGNED NOT NULL "
        "AUTO_INCREMENT PRIMARY KEY, username VARCHAR(190) NOT NULL UNIQUE, "
        "password_hash VARCHAR(255) NOT NULL, token_version INT UNSIGNED NOT "
        "NULL DEFAULT 0) DEFAULT CHARSET=utf8mb4");
    sql(admin, "CREATE TABLE IF NOT EXISTS images (id BIGINT UNSIGNED NOT "
               "NULL AUTO_INCREMENT PRIMARY KEY, owner_id BIGINT UNSIGNED NOT "
               "NULL, path VARCHAR(1024) NOT NULL) DEFAULT CHARSET=utf8mb4");
    sql(admin, "DELETE FROM images WHERE id >= 18446744073709551000");
    sql(admin, "DELETE FROM users WHERE id >= 18446744073709551000");
    sql(admin, "INSERT INTO users (id, username, password_hash, "
               "token_version) VALUES (" U_MAX ", 'unitdb_alice', "
               "'$2y$05$abcdefghijklmnopqrstuv', 7), (18446744073709551600, "
               "'unitdb_bob', 'pbkdf2:sha256:1$s$h', 4294967295)");
    sql(admin, "INSERT INTO images (id, owner_id, path) VALUES (" I_MAX
               ", " U_MAX ", 'a/1.jpg'), (18446744073709551613, "
               "18446744073709551600, 'b/1.jpg')");
    /* a user name of 190 four-byte characters: the column's maximum */
    q = apr_pstrcat(pool,
                    "INSERT INTO users (id, username, password_hash) "
                    "VALUES (18446744073709551500, '",
                    apr_pstrdup(pool, ""), NULL);
    for (int i = 0; i < 190; i++) {
        q = apr_pstrcat(pool, q, "\xf0\x9f\x98\x80", NULL);
    }
    sql(admin, apr_pstrcat(pool, q, "', 'h')", NULL));
}

static void teardown_db(void)
{
    if (admin) {
        sql(admin, "DELETE FROM images WHERE id >= 18446744073709551000");
        sql(admin, "DELETE FROM users WHERE id >= 18446744073709551000");
        mysql_close(admin);
        admin = NULL;
    }
    teardown_pool();
}

static pv_db_params_t *env_params(const char *extra)
{
    return parse_ok(apr_psprintf(pool, "sock=%s user=%s pass=%s dbname=%s %s",
                                 env_socket, env_user, env_pass, env_name,
                                 extra ? extra : ""));
}

static pv_db_pool_t *make_pool(const pv_db_queries_t *queries, int max)
{
    pv_db_pool_t *db = NULL;

    ck_assert_int_eq(pv_db_pool_create(&db, env_params("connecttimeout=2"),
                                       queries, max, pool),
                     APR_SUCCESS);
    return db;
}

/* Log lines, captured (threads log too). */
static apr_thread_mutex_t *log_mutex;
static char log_text[8192];

static void log_capture(void *baton, const char *file, int line,
                        pv_log_level_e level, apr_status_t rv, const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    (void)level;
    (void)rv;
    apr_thread_mutex_lock(log_mutex);
    apr_cpystrn(log_text + strlen(log_text), msg,
                sizeof(log_text) - strlen(log_text) - 1);
    strcat(log_text, "\n");
    apr_thread_mutex_unlock(log_mutex);
}

static int log_count(const char *tag)
{
    int n = 0;
    const char *s = log_text;

    while ((s = strstr(s, tag)) != NULL) {
        n++;
        s++;
    }
    return n;
}

START_TEST(db_login_found)
{
    pv_db_pool_t *db = make_pool(NULL, 2);
    pv_db_user_t *u = NULL;
    const char *err = NULL;

    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_alice", 12, pool),
                     APR_SUCCESS);
    ck_assert(u->id == ID_ALICE);
    ck_assert_str_eq(u->password_hash, "$2y$05$abcdefghijklmnopqrstuv");
    ck_assert_uint_eq(u->password_hash_len, 29);
    ck_assert_uint_eq(u->token_version, 7);

    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     APR_SUCCESS);
    ck_assert(u->id == ID_BOB);
    ck_assert_str_eq(u->password_hash, "pbkdf2:sha256:1$s$h");
    ck_assert_uint_eq(u->token_version, 4294967295U);
}
END_TEST

START_TEST(db_login_not_found)
{
    pv_db_pool_t *db = make_pool(NULL, 2);
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    char *big = apr_palloc(pool, 5000);

    ck_assert_int_eq(
        pv_db_login_lookup(&u, &err, db, "unitdb_nobody", 13, pool),
        APR_NOTFOUND);
    ck_assert_ptr_null(u);
    /* length is bound, not NUL-terminated text: a prefix does not match */
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_alice", 11, pool),
                     APR_NOTFOUND);
    /* an embedded NUL does not cut the name short */
    ck_assert_int_eq(
        pv_db_login_lookup(&u, &err, db, "unitdb_alice\0x", 14, pool),
        APR_NOTFOUND);
    /* over the column's bound: no such user, without a query */
    memset(big, 'a', 5000);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, big, 5000, pool),
                     APR_NOTFOUND);
    /* not UTF-8 */
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "\xff\xfe", 2, pool),
                     APR_NOTFOUND);
    ck_assert_ptr_null(u);
}
END_TEST

START_TEST(db_login_long_username)
{
    pv_db_pool_t *db = make_pool(NULL, 1);
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    char *name = apr_pstrdup(pool, "");

    for (int i = 0; i < 190; i++) {
        name = apr_pstrcat(pool, name, "\xf0\x9f\x98\x80", NULL);
    }
    ck_assert_uint_eq(strlen(name), PV_DB_USERNAME_MAX);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, name, strlen(name), pool),
                     APR_SUCCESS);
    ck_assert(u->id == 18446744073709551500ULL);
    ck_assert_uint_eq(u->token_version, 0);
}
END_TEST

START_TEST(db_image_lookups)
{
    pv_db_pool_t *db = make_pool(NULL, 2);
    pv_db_image_t *img = NULL;
    const char *err = NULL;

    /* own image */
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(img->token_version, 7);
    ck_assert_str_eq(img->path, "a/1.jpg");
    ck_assert_uint_eq(img->path_len, 7);
    /* someone else's: the user's row, no path */
    img = NULL;
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_B1, ID_ALICE, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(img->token_version, 7);
    ck_assert_ptr_null(img->path);
    /* no such image */
    img = NULL;
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_NONE, ID_BOB, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(img->token_version, 4294967295U);
    ck_assert_ptr_null(img->path);
    /* no such user */
    img = NULL;
    ck_assert_int_eq(
        pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE - 1, pool),
        APR_NOTFOUND);
    ck_assert_ptr_null(img);
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, 0, pool),
                     APR_NOTFOUND);
}
END_TEST

START_TEST(db_bounds)
{
    pv_db_pool_t *db = make_pool(NULL, 1);
    pv_db_image_t *img = NULL;
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    char *p1024 = apr_palloc(pool, 1025), *h255 = apr_palloc(pool, 256);
    char *q;

    /* exactly at the bounds: fine */
    memset(p1024, 'p', 1024);
    p1024[1024] = '\0';
    memset(h255, 'h', 255);
    h255[255] = '\0';
    sql(admin,
        apr_psprintf(pool, "UPDATE images SET path = '%s' WHERE id = " I_MAX,
                     p1024));
    sql(admin, apr_psprintf(pool,
                            "UPDATE users SET password_hash = '%s' "
                            "WHERE id = " U_MAX,
                            h255));
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(img->path_len, 1024);
    ck_assert_str_eq(img->path, p1024);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_alice", 12, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(u->password_hash_len, 255);
    ck_assert_str_eq(u->password_hash, h255);

    /* one byte over (two-byte characters fit the columns' char counts) */
    q = apr_pstrdup(pool, "UPDATE images SET path = CONCAT(REPEAT('p', 1023), "
                          "'\xc3\xa9') WHERE id = " I_MAX);
    sql(admin, q);
    img = NULL;
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
                     PV_DB_ERROR);
    ck_assert_ptr_null(img);
    ck_assert_msg(strstr(err, "PreviewImageQuery") != NULL, "%s", err);
    sql(admin, "UPDATE users SET password_hash = REPEAT('\xc3\xa9', 128) "
               "WHERE id = " U_MAX);
    u = NULL;
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_alice", 12, pool),
                     PV_DB_ERROR);
    ck_assert_ptr_null(u);
    ck_assert_msg(strstr(err, "PreviewLoginQuery") != NULL, "%s", err);

    /* the connection is still good after a refused row */
    sql(admin, "UPDATE images SET path = 'x\\0y' WHERE id = " I_MAX);
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
                     PV_DB_ERROR);
    ck_assert_msg(strstr(err, "NUL") != NULL, "%s", err);
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_B1, ID_BOB, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(img->path, "b/1.jpg");
}
END_TEST

START_TEST(db_logout)
{
    pv_db_pool_t *db = make_pool(NULL, 2);
    pv_db_image_t *img = NULL;
    apr_uint64_t n = 99;
    const char *err = NULL;

    ck_assert_int_eq(pv_db_logout(&n, &err, db, ID_ALICE, pool), APR_SUCCESS);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(img->token_version, 8);
    ck_assert_int_eq(pv_db_logout(&n, &err, db, ID_ALICE, pool), APR_SUCCESS);
    ck_assert_uint_eq(sql_u64(admin, "SELECT token_version FROM users WHERE "
                                     "id = " U_MAX),
                      9);
    /* no such user: nothing changed */
    n = 99;
    ck_assert_int_eq(pv_db_logout(&n, &err, db, ID_ALICE - 1, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(n, 0);
    /* INT UNSIGNED at its top: the UPDATE fails, nothing wraps */
    ck_assert_int_eq(pv_db_logout(&n, &err, db, ID_BOB, pool), PV_DB_ERROR);
    ck_assert_msg(strstr(err, "PreviewLogoutQuery") != NULL, "%s", err);
}
END_TEST

/* With the default queries: login, image, logout, the hash sample, the
 * username key. */
#define PREPARES_PER_CONNECTION 5

/* A PreviewLoginQuery of an operator's own: the module's queries cannot
 * know its schema. */
static const pv_db_queries_t custom_login = {
    "SELECT id, password_hash, token_version FROM users WHERE "
    "username = ? AND id > 0",
    NULL, NULL};

/* The newest user's hash (ours sit at the top of the id space); none with
 * another PreviewLoginQuery, whose schema is not known. */
START_TEST(db_password_sample)
{
    pv_db_pool_t *db = make_pool(NULL, 1);
    const char *hash = NULL, *err = NULL;

    ck_assert_msg(pv_db_password_sample(&hash, &err, db, pool) == APR_SUCCESS,
                  "%s", err);
    ck_assert_str_eq(hash, "$2y$05$abcdefghijklmnopqrstuv");
    hash = NULL;
    db = make_pool(&custom_login, 1);
    ck_assert_int_eq(pv_db_password_sample(&hash, &err, db, pool),
                     APR_ENOTIMPL);
    ck_assert_ptr_null(hash);
}
END_TEST

static const char *name_key(pv_db_pool_t *db, const char *name)
{
    const char *key = NULL, *err = NULL;

    ck_assert_msg(pv_db_login_key(&key, &err, db, name, strlen(name), pool) ==
                      APR_SUCCESS,
                  "%s: %s", name, err);
    ck_assert_uint_eq(strlen(key), 64);
    return key;
}

/* One key for every spelling the column's collation matches, found user or
 * not; the key is the column's own folding of the stored name. */
START_TEST(db_login_key)
{
    pv_db_pool_t *db = make_pool(NULL, 1);
    const char *alice = name_key(db, "unitdb_alice");
    const char *zed = name_key(db, "unitdb_zed");
    MYSQL_RES *res;
    MYSQL_ROW row;

    ck_assert_str_eq(name_key(db, "UNITDB_Alice"), alice);
    ck_assert_str_eq(name_key(db, "unitdb_alice   "), alice);
    ck_assert_str_eq(name_key(db, "\xc3\xbcnitdb_alice"), alice); /* u-umlaut */
    ck_assert_str_ne(name_key(db, "unitdb_alicf"), alice);
    ck_assert_str_ne(name_key(db, "unitdb_alice\t"), alice);
    ck_assert_str_ne(name_key(db, "unitdb_alic"), alice);
    ck_assert_str_eq(name_key(db, "UNITDB_ZED "), zed);
    ck_assert_str_ne(zed, alice);
    ck_assert_str_ne(name_key(db, ""), alice);

    ck_assert_int_eq(
        mysql_query(admin,
                    "SELECT SHA2(WEIGHT_STRING(username AS CHAR(760)), 256) "
                    "FROM users WHERE id = " U_MAX),
        0);
    res = mysql_store_result(admin);
    ck_assert_ptr_nonnull(res);
    row = mysql_fetch_row(res);
    ck_assert_ptr_nonnull(row);
    ck_assert_str_eq(row[0], alice);
    mysql_free_result(res);

    /* Another login query: the connection's collation still folds case. */
    db = make_pool(&custom_login, 1);
    ck_assert_str_eq(name_key(db, "UNITDB_ZED"), name_key(db, "unitdb_zed"));
}
END_TEST

START_TEST(db_prepared_once_per_connection)
{
    pv_db_pool_t *db = make_pool(NULL, 1);
    pv_db_stats_t st;
    pv_db_image_t *img;
    pv_db_user_t *u;
    apr_uint64_t n;
    const char *err = NULL;

    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.connects, 0); /* none opened at creation */
    for (int i = 0; i < 20; i++) {
        ck_assert_int_eq(
            pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
            APR_SUCCESS);
        ck_assert_int_eq(
            pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
            APR_SUCCESS);
    }
    ck_assert_int_eq(pv_db_logout(&n, &err, db, ID_ALICE, pool), APR_SUCCESS);
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.connects, 1);
    ck_assert_uint_eq(st.prepares, PREPARES_PER_CONNECTION);
    ck_assert_uint_eq(st.retries, 0);
    ck_assert_uint_eq(st.down, 0);
}
END_TEST

/* PreviewImageQuery returning CONNECTION_ID() as the token_version tells the
 * test which server thread to kill. */
static const pv_db_queries_t conn_id_queries = {
    NULL,
    "SELECT CONNECTION_ID(), CAST(? AS CHAR) FROM users WHERE id = ?",
    NULL,
};

START_TEST(db_killed_connection_is_retried)
{
    pv_db_pool_t *db = make_pool(&conn_id_queries, 1);
    pv_db_image_t *img = NULL;
    pv_db_stats_t st;
    apr_uint32_t cid;
    apr_uint64_t n;
    const char *err = NULL;

    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, 42, ID_ALICE, pool),
                     APR_SUCCESS);
    ck_assert_str_eq(img->path, "42");
    cid = img->token_version;
    sql(admin, apr_psprintf(pool, "KILL %u", cid));
    apr_sleep(apr_time_from_msec(100));

    ck_assert_msg(pv_db_image_lookup(&img, &err, db, 43, ID_ALICE, pool) ==
                      APR_SUCCESS,
                  "%s", err);
    ck_assert_str_eq(img->path, "43");
    ck_assert_uint_ne(img->token_version, cid);
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.connects, 2);
    ck_assert_uint_eq(st.prepares, 2 * PREPARES_PER_CONNECTION);
    ck_assert_uint_eq(st.down, 0);

    /* the logout (a write) checks its connection before sending */
    cid = img->token_version;
    sql(admin, apr_psprintf(pool, "KILL %u", cid));
    apr_sleep(apr_time_from_msec(100));
    ck_assert_msg(pv_db_logout(&n, &err, db, ID_ALICE, pool) == APR_SUCCESS,
                  "%s", err);
    ck_assert_uint_eq(n, 1);
    ck_assert_uint_eq(sql_u64(admin, "SELECT token_version FROM users WHERE "
                                     "id = " U_MAX),
                      8);
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.connects, 3);
}
END_TEST

/* Is v among ids[0..n-1]? */
static int has_id(const pv_db_owned_t *o, apr_uint64_t v)
{
    int i;

    for (i = 0; i < o->nids; i++) {
        if (o->ids[i] == v) {
            return 1;
        }
    }
    return 0;
}

START_TEST(db_owned_images)
{
    pv_db_pool_t *db = make_pool(&conn_id_queries, 1);
    apr_uint64_t ids[PV_DB_OWNED_MAX + 1];
    pv_db_owned_t *o = NULL;
    pv_db_image_t *img = NULL;
    pv_db_stats_t st;
    const char *err = NULL;
    int i, round;

    /* three more of alice's */
    sql(admin, "INSERT INTO images (id, owner_id, path) VALUES "
               "(18446744073709551100, " U_MAX ", 'a/2.jpg'), "
               "(18446744073709551101, " U_MAX ", 'a/3.jpg'), "
               "(18446744073709551102, " U_MAX ", 'a/4.jpg')");
    ids[0] = IMG_A1;
    ids[1] = IMG_B1;
    ids[2] = IMG_NONE;
    ids[3] = 18446744073709551101ULL;
    ids[4] = 18446744073709551102ULL;
    ck_assert_msg(pv_db_owned_images(&o, &err, db, ids, 5, ID_ALICE, pool) ==
                      APR_SUCCESS,
                  "%s", err);
    ck_assert_uint_eq(o->token_version, 7);
    ck_assert_int_eq(o->nids, 3);
    ck_assert(has_id(o, IMG_A1) && has_id(o, 18446744073709551101ULL) &&
              has_id(o, 18446744073709551102ULL));
    /* bob's view of the same batch: his one image, his token_version */
    ck_assert_int_eq(pv_db_owned_images(&o, &err, db, ids, 5, ID_BOB, pool),
                     APR_SUCCESS);
    ck_assert_uint_eq(o->token_version, 4294967295U);
    ck_assert_int_eq(o->nids, 1);
    ck_assert(o->ids[0] == IMG_B1);
    /* none of them: the user's row alone */
    ck_assert_int_eq(
        pv_db_owned_images(&o, &err, db, ids + 1, 2, ID_ALICE, pool),
        APR_SUCCESS);
    ck_assert_uint_eq(o->token_version, 7);
    ck_assert_int_eq(o->nids, 0);
    /* no such user */
    o = NULL;
    ck_assert_int_eq(
        pv_db_owned_images(&o, &err, db, ids, 5, ID_ALICE - 1, pool),
        APR_NOTFOUND);
    ck_assert_ptr_null(o);
    /* out of range */
    ck_assert_int_eq(pv_db_owned_images(&o, &err, db, ids, 0, ID_ALICE, pool),
                     APR_EINVAL);
    ck_assert_int_eq(pv_db_owned_images(&o, &err, db, ids, PV_DB_OWNED_MAX + 1,
                                        ID_ALICE, pool),
                     APR_EINVAL);

    /* every batch size, each of the four statement sizes twice: prepared
     * once each on this one connection, the repeats add no rows */
    for (i = 0; i <= PV_DB_OWNED_MAX; i++) {
        ids[i] = IMG_NONE - (apr_uint64_t)i;
    }
    ids[PV_DB_OWNED_MAX] = 18446744073709551100ULL;
    for (round = 0; round < 2; round++) {
        static const int sizes[] = {1, 2, 10, 11, 50, 51, PV_DB_OWNED_MAX};
        for (i = 0; i < 7; i++) {
            apr_uint64_t *batch = ids + PV_DB_OWNED_MAX + 1 - sizes[i];

            ck_assert_int_eq(pv_db_owned_images(&o, &err, db, batch, sizes[i],
                                                ID_ALICE, pool),
                             APR_SUCCESS);
            /* each ends with alice's image */
            ck_assert_int_eq(o->nids, 1);
            ck_assert(o->ids[0] == 18446744073709551100ULL);
        }
    }
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.connects, 1);
    /* five statements of the default queries, and the four batch sizes */
    ck_assert_uint_eq(st.prepares, 5 + 4);

    /* a killed connection: reopened, and the batch retried once */
    ck_assert_int_eq(pv_db_image_lookup(&img, &err, db, 42, ID_ALICE, pool),
                     APR_SUCCESS);
    sql(admin, apr_psprintf(pool, "KILL %u", img->token_version));
    apr_sleep(apr_time_from_msec(100));
    ck_assert_msg(pv_db_owned_images(&o, &err, db, ids + PV_DB_OWNED_MAX - 1, 2,
                                     ID_ALICE, pool) == APR_SUCCESS,
                  "%s", err);
    ck_assert_int_eq(o->nids, 1);
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.connects, 2);
    ck_assert_uint_eq(st.prepares, 5 + 4 + 5 + 1);
}
END_TEST

START_TEST(db_bad_queries)
{
    pv_db_queries_t bad_sql = {"SELEKT id FROM users WHERE username = ?", NULL,
                               NULL};
    pv_db_queries_t bad_shape = {"SELECT id, password_hash FROM users WHERE "
                                 "username = ?",
                                 NULL, NULL};
    pv_db_queries_t two_rows = {"SELECT id, password_hash, token_version FROM "
                                "users WHERE username = ? OR id >= "
                                "18446744073709551000",
                                NULL, NULL};
    pv_db_queries_t null_hash = {"SELECT id, NULL, token_version FROM users "
                                 "WHERE username = ?",
                                 NULL, NULL};
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    pv_db_pool_t *db;

    db = make_pool(&bad_sql, 1);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     PV_DB_ERROR);
    ck_assert_msg(strstr(err, "PreviewLoginQuery: 1064 ") == err, "%s", err);

    db = make_pool(&bad_shape, 1);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     PV_DB_ERROR);
    ck_assert_str_eq(err, "PreviewLoginQuery must take 1 parameter(s) and "
                          "return 3 column(s) (id, password_hash, "
                          "token_version); it takes 1 and returns 2");

    db = make_pool(&two_rows, 1);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     PV_DB_ERROR);
    ck_assert_str_eq(err, "PreviewLoginQuery returned 3 rows, expected at "
                          "most one");

    db = make_pool(&null_hash, 1);
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     APR_SUCCESS);
    ck_assert(u->id == ID_BOB);
    ck_assert_ptr_null(u->password_hash);
    ck_assert_uint_eq(u->password_hash_len, 0);
}
END_TEST

START_TEST(db_down_then_back)
{
    const char *link =
        apr_psprintf(pool, "/tmp/pv-test-db-%ld.sock", (long)getpid());
    pv_db_pool_t *db = NULL;
    pv_db_image_t *img = NULL;
    pv_db_stats_t st;
    const char *err = NULL;
    apr_time_t t0;

    /* the pool's socket is a symlink we point at nothing, then at MariaDB */
    unlink(link);
    ck_assert_int_eq(symlink("/nonexistent/mysqld.sock", link), 0);
    ck_assert_int_eq(pv_db_pool_create(&db,
                                       parse_ok(apr_psprintf(
                                           pool,
                                           "sock=%s user=%s pass=%s dbname=%s "
                                           "connecttimeout=2",
                                           link, env_user, env_pass, env_name)),
                                       NULL, 2, pool),
                     APR_SUCCESS);
    apr_thread_mutex_create(&log_mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    log_text[0] = '\0';
    pv_log_set(log_capture, NULL);

    t0 = apr_time_now();
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(
            pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool),
            PV_DB_UNAVAILABLE);
        ck_assert_ptr_null(strstr(err, env_pass[0] ? env_pass : "\x01"));
    }
    ck_assert_msg(apr_time_now() - t0 < apr_time_from_sec(2), "took %ld ms",
                  (long)apr_time_as_msec(apr_time_now() - t0));
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.down, 1);
    /* one line per outage, not per request, and no password in it */
    ck_assert_int_eq(log_count("PV0301: "), 1);
    ck_assert_int_eq(log_count("PV0302: "), 0);
    ck_assert_ptr_nonnull(strstr(log_text, "pass=***"));
    if (env_pass[0]) {
        ck_assert_ptr_null(strstr(log_text, env_pass));
    }

    /* back: the next call recovers by itself */
    unlink(link);
    ck_assert_int_eq(symlink(env_socket, link), 0);
    ck_assert_msg(pv_db_image_lookup(&img, &err, db, IMG_A1, ID_ALICE, pool) ==
                      APR_SUCCESS,
                  "%s", err);
    ck_assert_str_eq(img->path, "a/1.jpg");
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.down, 0);
    ck_assert_int_eq(log_count("PV0301: "), 1);
    ck_assert_int_eq(log_count("PV0302: "), 1);
    pv_log_set(NULL, NULL);
    unlink(link);
}
END_TEST

START_TEST(db_wrong_password)
{
    pv_db_pool_t *db = NULL;
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    pv_db_stats_t st;

    ck_assert_int_eq(pv_db_pool_create(
                         &db,
                         parse_ok(apr_psprintf(pool,
                                               "sock=%s user=%s "
                                               "pass=Wr0ngSecret dbname=%s",
                                               env_socket, env_user, env_name)),
                         NULL, 1, pool),
                     APR_SUCCESS);
    apr_thread_mutex_create(&log_mutex, APR_THREAD_MUTEX_DEFAULT, pool);
    log_text[0] = '\0';
    pv_log_set(log_capture, NULL);
    /* A configuration error, not an outage: its own status, every call
     * (no fast-fail while "down"), and no outage line from the core. */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
            PV_DB_REFUSED);
        ck_assert_msg(strstr(err, "connect: 1045 ") != NULL, "%s", err);
        ck_assert_ptr_null(strstr(err, "Wr0ngSecret"));
    }
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.down, 0);
    ck_assert_int_eq(log_count("PV0301: "), 0);
    pv_log_set(NULL, NULL);
}
END_TEST

/* A few threads share a pool smaller than their number. */
#define NTHREADS 6
#define NLOOKUPS 150

static pv_db_pool_t *shared_db;

static void *APR_THREAD_FUNC lookup_thread(apr_thread_t *t, void *data)
{
    apr_pool_t *p;
    long bad = 0;

    (void)data;
    apr_pool_create(&p, NULL);
    for (int i = 0; i < NLOOKUPS; i++) {
        pv_db_image_t *img = NULL;
        pv_db_user_t *u = NULL;
        const char *err = NULL;

        if (pv_db_image_lookup(&img, &err, shared_db, IMG_A1, ID_ALICE, p) !=
                APR_SUCCESS ||
            strcmp(img->path, "a/1.jpg") || img->token_version != 7) {
            bad++;
        }
        if (pv_db_login_lookup(&u, &err, shared_db, "unitdb_bob", 10, p) !=
                APR_SUCCESS ||
            u->id != ID_BOB) {
            bad++;
        }
        apr_pool_clear(p);
    }
    apr_pool_destroy(p);
    apr_thread_exit(t, (apr_status_t)bad);
    return NULL;
}

START_TEST(db_threads)
{
    apr_thread_t *th[NTHREADS];
    pv_db_stats_t st;

    shared_db = make_pool(NULL, 3);
    for (int i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(
            apr_thread_create(&th[i], NULL, lookup_thread, NULL, pool),
            APR_SUCCESS);
    }
    for (int i = 0; i < NTHREADS; i++) {
        apr_status_t bad = 0;
        apr_thread_join(&bad, th[i]);
        ck_assert_int_eq(bad, 0);
    }
    pv_db_pool_stats(&st, shared_db);
    ck_assert_uint_le(st.connects, 3);
    ck_assert_uint_ge(st.connects, 1);
    ck_assert_uint_eq(st.prepares, PREPARES_PER_CONNECTION * st.connects);
}
END_TEST

/* Three lookups at once, each sleeping, open three connections; all three
 * are then killed (as by a MariaDB restart): one retry, then no more. */
static const pv_db_queries_t slow_conn_id_queries = {
    NULL,
    "SELECT CONNECTION_ID(), CAST(? AS CHAR) FROM users WHERE id = ? AND "
    "SLEEP(0.3) = 0",
    NULL,
};

static void *APR_THREAD_FUNC slow_thread(apr_thread_t *t, void *data)
{
    apr_pool_t *p;
    pv_db_image_t *img = NULL;
    const char *err = NULL;
    apr_status_t rv;

    (void)data;
    apr_pool_create(&p, NULL);
    rv = pv_db_image_lookup(&img, &err, shared_db, 1, ID_ALICE, p);
    apr_pool_destroy(p);
    apr_thread_exit(t, rv);
    return NULL;
}

START_TEST(db_all_connections_killed)
{
    apr_thread_t *th[3];
    pv_db_image_t *img = NULL;
    pv_db_stats_t st;
    const char *err = NULL;
    MYSQL_RES *res;
    MYSQL_ROW row;
    int killed = 0;

    shared_db = make_pool(&slow_conn_id_queries, 3);
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            apr_thread_create(&th[i], NULL, slow_thread, NULL, pool),
            APR_SUCCESS);
    }
    for (int i = 0; i < 3; i++) {
        apr_status_t rv = -1;
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(rv, APR_SUCCESS);
    }
    pv_db_pool_stats(&st, shared_db);
    ck_assert_uint_eq(st.connects, 3);

    ck_assert_int_eq(mysql_query(admin, "SELECT id FROM "
                                        "information_schema.PROCESSLIST WHERE "
                                        "user = CURRENT_USER() OR user = "
                                        "SUBSTRING_INDEX(USER(), '@', 1)"),
                     0);
    res = mysql_store_result(admin);
    while ((row = mysql_fetch_row(res)) != NULL) {
        if (strtoul(row[0], NULL, 10) != mysql_thread_id(admin)) {
            sql(admin, apr_pstrcat(pool, "KILL ", row[0], NULL));
            killed++;
        }
    }
    mysql_free_result(res);
    ck_assert_int_ge(killed, 3);
    apr_sleep(apr_time_from_msec(100));

    ck_assert_msg(pv_db_image_lookup(&img, &err, shared_db, 5, ID_ALICE,
                                     pool) == APR_SUCCESS,
                  "%s", err);
    /* the other two dead connections are reopened before use, not retried */
    for (int i = 0; i < 3; i++) {
        ck_assert_int_eq(
            apr_thread_create(&th[i], NULL, slow_thread, NULL, pool),
            APR_SUCCESS);
    }
    for (int i = 0; i < 3; i++) {
        apr_status_t rv = -1;
        apr_thread_join(&rv, th[i]);
        ck_assert_int_eq(rv, APR_SUCCESS);
    }
    pv_db_pool_stats(&st, shared_db);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.connects, 6);
}
END_TEST

/* readtimeout bounds a query that hangs; it is retried once, then 503. */
START_TEST(db_read_timeout)
{
    pv_db_queries_t hang = {
        "SELECT id, password_hash, token_version FROM users WHERE username = "
        "? AND SLEEP(10) = 0",
        NULL, NULL};
    pv_db_pool_t *db = NULL;
    pv_db_user_t *u = NULL;
    const char *err = NULL;
    pv_db_stats_t st;
    apr_time_t t0, took;

    ck_assert_int_eq(
        pv_db_pool_create(&db, env_params("readtimeout=1"), &hang, 1, pool),
        APR_SUCCESS);
    t0 = apr_time_now();
    ck_assert_int_eq(pv_db_login_lookup(&u, &err, db, "unitdb_bob", 10, pool),
                     PV_DB_UNAVAILABLE);
    took = apr_time_now() - t0;
    ck_assert_msg(took >= apr_time_from_msec(1900) &&
                      took < apr_time_from_msec(4500),
                  "took %ld ms", (long)apr_time_as_msec(took));
    ck_assert_msg(strstr(err, "2013") != NULL, "%s", err);
    pv_db_pool_stats(&st, db);
    ck_assert_uint_eq(st.retries, 1);
    ck_assert_uint_eq(st.down, 0);
}
END_TEST

/* Once, in the runner's process, before the MariaDB tests fork. */
static void setup_process(void)
{
    const char *missing;

    /* a write to a socket MariaDB closed must be an error, not a death */
    signal(SIGPIPE, SIG_IGN);
    ck_assert_msg(pv_db_library_init() == APR_SUCCESS,
                  "mysql_library_init failed");
    missing = db_env_missing();
    if (missing) {
        fprintf(stderr,
                "test_db: %s is not set: the MariaDB tests will fail "
                "(start one with tests/mariadb start DIR and export DIR/env)\n",
                missing);
    }
}

/* The config's check of a query's '?' count: MariaDB's quoting and
 * comments, each rule with an exact count. */
START_TEST(placeholders)
{
    ck_assert_int_eq(pv_db_placeholders(""), 0);
    ck_assert_int_eq(pv_db_placeholders(PV_DB_DEFAULT_LOGIN_QUERY), 1);
    ck_assert_int_eq(pv_db_placeholders(PV_DB_DEFAULT_IMAGE_QUERY), 2);
    ck_assert_int_eq(pv_db_placeholders(PV_DB_DEFAULT_LOGOUT_QUERY), 1);
    ck_assert_int_eq(pv_db_placeholders("? ?, ?"), 3);
    /* quoted: not placeholders; doubled quotes and \ escapes stay inside */
    ck_assert_int_eq(pv_db_placeholders("'?' \"?\" `?` ?"), 1);
    ck_assert_int_eq(pv_db_placeholders("'it''s ?' ?"), 1);
    ck_assert_int_eq(pv_db_placeholders("'a\\'?' ?"), 1);
    /* a backtick name has no \ escape */
    ck_assert_int_eq(pv_db_placeholders("`a\\` ?"), 1);
    /* comments */
    ck_assert_int_eq(pv_db_placeholders("? # ?\n?"), 2);
    ck_assert_int_eq(pv_db_placeholders("? -- ?\n?"), 2);
    ck_assert_int_eq(pv_db_placeholders("? --\t?"), 1);
    ck_assert_int_eq(pv_db_placeholders("? --"), 1);
    ck_assert_int_eq(pv_db_placeholders("1--?"), 1);
    ck_assert_int_eq(pv_db_placeholders("? /* ? */ ?"), 2);
    /* not closed */
    ck_assert_int_eq(pv_db_placeholders("'?"), -1);
    ck_assert_int_eq(pv_db_placeholders("\"a\\"), -1);
    ck_assert_int_eq(pv_db_placeholders("`a"), -1);
    ck_assert_int_eq(pv_db_placeholders("? /* ?"), -1);
}
END_TEST

Suite *pv_test_db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("params");
    TCase *td = tcase_create("mariadb");

    tcase_add_checked_fixture(tc, setup_pool, teardown_pool);
    tcase_add_test(tc, params_all_keys);
    tcase_add_test(tc, params_separators);
    tcase_add_test(tc, params_defaults);
    tcase_add_test(tc, params_unknown_key);
    tcase_add_test(tc, params_bad_numbers);
    tcase_add_test(tc, params_twice_and_empty);
    tcase_add_test(tc, params_password_never_shown);
    tcase_add_test(tc, params_equal);
    tcase_add_test(tc, placeholders);
    suite_add_tcase(s, tc);

    tcase_add_unchecked_fixture(td, setup_process, NULL);
    tcase_add_checked_fixture(td, setup_db, teardown_db);
    tcase_set_timeout(td, 60);
    tcase_add_test(td, db_login_found);
    tcase_add_test(td, db_login_not_found);
    tcase_add_test(td, db_login_long_username);
    tcase_add_test(td, db_image_lookups);
    tcase_add_test(td, db_bounds);
    tcase_add_test(td, db_logout);
    tcase_add_test(td, db_password_sample);
    tcase_add_test(td, db_login_key);
    tcase_add_test(td, db_prepared_once_per_connection);
    tcase_add_test(td, db_killed_connection_is_retried);
    tcase_add_test(td, db_owned_images);
    tcase_add_test(td, db_bad_queries);
    tcase_add_test(td, db_down_then_back);
    tcase_add_test(td, db_wrong_password);
    tcase_add_test(td, db_threads);
    tcase_add_test(td, db_all_connections_killed);
    tcase_add_test(td, db_read_timeout);
    suite_add_tcase(s, td);
    return s;
}
