// The demo gallery: login (preview-login), per-image URL tokens
// (preview-sign), a grid of <img> tiles, logout (preview-logout).
// gallery.json lists the demo's images and their owners: it stands in for
// the listing a drive app would have; the module itself lists nothing.
//
// Test mode, for tests/browser: index.html#auto&user=U&pass=P[&logout=1]
// logs in by itself and writes what it saw as JSON into <pre id=result>
// (a fragment never reaches the server, so neither does the password).
"use strict";

// Each image is shown in these forms: size and format in the query, each
// rounded up to PreviewSizes and never past the source.
var VARIANTS = [
    {label: "w=256", query: {w: 256}},
    {label: "w=128 webp", query: {w: 128, format: "webp"}},
    {label: "512x512 cover jpeg", query: {w: 512, h: 512, fit: "cover", format: "jpeg"}},
    {label: "h=64 png", query: {h: 64, format: "png"}},
];

var state = {token: null, user: null, uid: null};
var result = {tiles: []};
var auto = parseFragment();

function $(id) {
    return document.getElementById(id);
}

function parseFragment() {
    var h = location.hash.replace(/^#/, "");
    if (!/^auto(&|$)/.test(h)) {
        return null;
    }
    var p = new URLSearchParams(h);
    return {user: p.get("user"), pass: p.get("pass"), logout: p.get("logout") === "1"};
}

function status(text, isError) {
    $("status").textContent = text;
    $("status").className = isError ? "error" : "";
}

function finish() {
    result.done = true;
    $("result").textContent = JSON.stringify(result);
    document.title = "mod_preview demo: done";
}

// POST a form body; the login token, when given, goes in Authorization.
function post(url, fields, token) {
    var headers = {"Content-Type": "application/x-www-form-urlencoded"};
    if (token) {
        headers.Authorization = "Bearer " + token;
    }
    return fetch(url, {
        method: "POST",
        headers: headers,
        body: new URLSearchParams(fields).toString(),
        credentials: "same-origin",
    });
}

function withQuery(url, query) {
    var parts = Object.keys(query).map(function (k) {
        return encodeURIComponent(k) + "=" + encodeURIComponent(query[k]);
    });
    return parts.length ? url + (url.indexOf("?") < 0 ? "?" : "&") + parts.join("&") : url;
}

// One tile; resolves once the image has loaded or failed.
function tile(image, label, src, expectRefused) {
    var div = document.createElement("div");
    div.className = "tile loading";
    var img = document.createElement("img");
    img.alt = image.name + " " + label;
    var refusal = document.createElement("div");
    refusal.className = "refusal";
    refusal.textContent = "refused";
    var caption = document.createElement("div");
    caption.className = "label";
    caption.textContent = "#" + image.id + " " + image.name + " · " + label + " · ";
    var size = document.createElement("span");
    size.className = "size";
    caption.appendChild(size);
    div.appendChild(img);
    div.appendChild(refusal);
    div.appendChild(caption);
    $("grid").appendChild(div);
    return new Promise(function (resolve) {
        img.addEventListener("load", function () {
            div.className = "tile";
            size.textContent = img.naturalWidth + "x" + img.naturalHeight;
            resolve({image: image.id, variant: label, ok: true,
                     w: img.naturalWidth, h: img.naturalHeight});
        });
        img.addEventListener("error", function () {
            // An <img> sees no status code: a 404 (not yours, or missing)
            // and a 401 (token dead) both end here.
            div.className = "tile refused";
            size.textContent = expectRefused ? "refused: not yours" : "refused";
            resolve({image: image.id, variant: label, ok: false});
        });
        img.src = src;
    });
}

async function showGallery() {
    var listing = await (await fetch("gallery.json", {cache: "no-store"})).json();
    var mine = listing.images.filter(function (i) { return i.owner === state.uid; });
    var others = listing.images.filter(function (i) { return i.owner !== state.uid; });
    var urls = {};
    if (listing.sign) {
        // One URL token per image, whatever the size: ask once, for all of
        // them, and another user's id too (it is simply left out).
        var ids = listing.images.map(function (i) { return i.id; }).join(",");
        var r = await post(listing.sign, {ids: ids}, state.token);
        result.sign = r.status;
        if (r.ok) {
            urls = (await r.json()).urls;
        }
        result.signed = Object.keys(urls).map(Number);
    }
    var waits = [];
    mine.forEach(function (image) {
        VARIANTS.forEach(function (v) {
            // A signed URL when there is one, else the login token itself.
            var base = urls[image.id] ||
                withQuery(listing.preview + "/" + image.id, {token: state.token});
            waits.push(tile(image, v.label, withQuery(base, v.query), false));
        });
    });
    // Another user's image, asked for with this user's login token: the
    // module answers 404, exactly as for an id that does not exist.
    others.slice(0, 1).forEach(function (image) {
        var src = withQuery(listing.preview + "/" + image.id, {token: state.token, w: 256});
        waits.push(tile(image, "another user's", src, true));
    });
    result.tiles = await Promise.all(waits);
    status(mine.length + " images of yours, " + others.length + " of others");
}

async function login(user, pass) {
    status("logging in");
    var r = await post("login", {username: user, password: pass});
    result.login = r.status;
    var body = await r.json();
    if (!r.ok) {
        status("login refused: " + r.status + " " + (body.message || body.error), true);
        return false;
    }
    state.token = body.token;
    state.user = user;
    state.uid = Number(body.user_id);
    result.user_id = state.uid;
    $("who").textContent = user;
    $("uid").textContent = body.user_id;
    $("login").hidden = true;
    $("session").hidden = false;
    await showGallery();
    return true;
}

async function logout() {
    var old = state.token;
    var r = await post("logout", {}, old);
    result.logout = r.status;
    // Every token of the user is dead now, URL tokens included: the old
    // login token cannot sign any more.
    var listing = await (await fetch("gallery.json", {cache: "no-store"})).json();
    if (listing.sign) {
        result.sign_after_logout = (await post(listing.sign, {ids: "1"}, old)).status;
    }
    state.token = null;
    $("grid").textContent = "";
    $("session").hidden = true;
    $("login").hidden = false;
    status(r.status === 204 ? "logged out: every token of yours is revoked" :
           "logout answered " + r.status, r.status !== 204);
}

$("login").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    login(f.username.value, f.password.value).catch(function (err) {
        status("error: " + err, true);
    });
});

$("logout").addEventListener("click", function () {
    logout().catch(function (err) {
        status("error: " + err, true);
    });
});

if (auto) {
    (async function () {
        try {
            if ((await login(auto.user, auto.pass)) && auto.logout) {
                await logout();
            }
        } catch (err) {
            result.error = String(err);
        }
        finish();
    })();
}
