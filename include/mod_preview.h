/* mod_preview: the names other modules and log formats may rely on. */
#ifndef MOD_PREVIEW_H
#define MOD_PREVIEW_H

/* SetHandler names */
#define PV_HANDLER_LOGIN   "preview-login"
#define PV_HANDLER_LOGOUT  "preview-logout"
#define PV_HANDLER_PREVIEW "preview"
#define PV_HANDLER_SIGN    "preview-sign"

/* Request notes, for LogFormat "%{preview-user}n" and friends */
#define PV_NOTE_USER  "preview-user"
#define PV_NOTE_IMAGE "preview-image"
#define PV_NOTE_CACHE "preview-cache"
#define PV_NOTE_MS    "preview-ms"

#endif /* MOD_PREVIEW_H */
