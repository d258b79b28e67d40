-- mod_preview schema (MariaDB / MySQL, InnoDB, utf8mb4).
-- Load into an empty database, made first (this file creates tables only,
-- so it can be loaded into a database of any name):
--   mariadb -e "CREATE DATABASE preview CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
--   mariadb preview < conf/schema.sql
-- The module's account needs SELECT on users and images, and UPDATE on
-- users.token_version (logout): see the README's quick start.
-- Existing schemas need not match: PreviewLoginQuery, PreviewImageQuery and
-- PreviewLogoutQuery can be pointed at other tables with the same parameters
-- and result columns.

-- token_version: every token carries the value current when it was issued;
-- logout increments it, so all of that user's tokens stop verifying at once.
CREATE TABLE IF NOT EXISTS users (
    id            BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    username      VARCHAR(190) NOT NULL,
    password_hash VARCHAR(255) NOT NULL,
    token_version INT UNSIGNED NOT NULL DEFAULT 0,
    PRIMARY KEY (id),
    UNIQUE KEY users_username (username)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;

-- path is relative to PreviewStorageRoot; binary collation because it names
-- a file, byte for byte.
CREATE TABLE IF NOT EXISTS images (
    id       BIGINT UNSIGNED NOT NULL AUTO_INCREMENT,
    owner_id BIGINT UNSIGNED NOT NULL,
    path     VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
    PRIMARY KEY (id),
    KEY images_owner (owner_id, id),
    CONSTRAINT images_owner_fk FOREIGN KEY (owner_id) REFERENCES users (id)
        ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_unicode_ci;
