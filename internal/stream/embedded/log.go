package embedded

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/egovtrack/egovtrack/internal/natsauth"
)

// serverLog is an embedded server's log on slog: its notices at debug level (it has many on start), warnings and
// errors as such. A line that names a credential's public key (a client's permission violation) gets the
// credential's name as an attribute, so that the log says who tried.
type serverLog struct {
	log  *slog.Logger
	auth *natsauth.Model
}

func newServerLog(log *slog.Logger, auth *natsauth.Model) *serverLog {
	return &serverLog{log: log.With("component", "nats-server"), auth: auth}
}

func (l *serverLog) emit(level slog.Level, format string, v []any) {
	if !l.log.Enabled(context.Background(), level) {
		return
	}
	msg := fmt.Sprintf(format, v...)
	var attrs []any
	if l.auth != nil {
		for _, u := range l.auth.Users {
			if strings.Contains(msg, u.Key) {
				attrs = append(attrs, "credential", u.Name)
				break
			}
		}
		if op := l.auth.Operator; len(attrs) == 0 && op != "" && strings.Contains(msg, op) {
			attrs = append(attrs, "credential", natsauth.OperatorName)
		}
	}
	l.log.Log(context.Background(), level, msg, attrs...)
}

func (l *serverLog) Noticef(format string, v ...any) { l.emit(slog.LevelDebug, format, v) }
func (l *serverLog) Warnf(format string, v ...any)   { l.emit(slog.LevelWarn, format, v) }
func (l *serverLog) Fatalf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l *serverLog) Errorf(format string, v ...any)  { l.emit(slog.LevelError, format, v) }
func (l *serverLog) Debugf(format string, v ...any)  { l.emit(slog.LevelDebug-1, format, v) }
func (l *serverLog) Tracef(format string, v ...any)  { l.emit(slog.LevelDebug-2, format, v) }
