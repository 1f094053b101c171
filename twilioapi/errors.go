package twilioapi

import (
	"log/slog"
	"net/http"
	"strconv"

	"github.com/tonepay/tonepay"
)

// httpStatus maps error codes to HTTP statuses. This table and writeError are
// the only places that know how an error looks on the wire; codes not listed
// are client errors (400), as Twilio's Pay errors are.
var httpStatus = map[int]int{
	tonepay.CodeAuthenticate:     http.StatusUnauthorized,
	tonepay.CodeMethodNotAllowed: http.StatusMethodNotAllowed,
	tonepay.CodeNotFound:         http.StatusNotFound,
	tonepay.CodeTooManyRequests:  http.StatusTooManyRequests,
	tonepay.CodeInternal:         http.StatusInternalServerError,
}

// restError is Twilio's error body.
type restError struct {
	Code     int    `json:"code"`
	Message  string `json:"message"`
	MoreInfo string `json:"more_info"`
	Status   int    `json:"status"`
}

// writeError writes err as Twilio's error JSON. Internal errors are logged
// with their cause and reach the client only as a generic 20500.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := tonepay.ErrorCode(err)
	status, ok := httpStatus[code]
	if !ok {
		status = http.StatusBadRequest
	}
	if code == tonepay.CodeInternal {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	if code == tonepay.CodeAuthenticate {
		w.Header().Set("WWW-Authenticate", `Basic realm="Twilio API"`)
	}
	writeJSON(w, status, restError{
		Code:     code,
		Message:  tonepay.ErrorMessage(err),
		MoreInfo: "https://www.twilio.com/docs/errors/" + strconv.Itoa(code),
		Status:   status,
	})
}

func errNotFound(r *http.Request) error {
	return tonepay.Errorf(tonepay.CodeNotFound, "The requested resource %s was not found", r.URL.Path)
}

func errMissing(name string) error {
	return tonepay.Errorf(tonepay.CodeMissingParameter, "Missing required parameter %s in the post body", name)
}
