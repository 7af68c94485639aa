// Package alert holds egovtrack's Grafana alert rules, built with grafana-foundation-sdk's alerting and expr
// packages, in the form Grafana provisions them from a file (provisioning/alerting). Each rule is one ClickHouse query
// (refId A) and one threshold expression on it (refId B, the condition); a query that returns one row per unit, with
// its kind, code and name as string columns, makes one alert instance per unit, labelled with them.
package alert

import (
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/alerting"
	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/expr"

	"github.com/egovtrack/egovtrack/dashboards/board"
	"github.com/egovtrack/egovtrack/dashboards/chquery"
)

// The folder every rule lives in, as the dashboards do.
const (
	Folder    = "egovtrack"
	FolderUID = "egovtrack"
)

// The rule groups: the units' reminders, evaluated hourly, and the pipeline's, every minute.
const (
	UnitsGroup    = "units"
	PipelineGroup = "pipeline"
)

// The rules' uids.
const (
	UnitSilentUID  = "egov-unit-silent"
	DeadlineUID    = "egov-national-deadline"
	BehindUID      = "egov-unit-behind"
	QuarantinedUID = "egov-pipeline-quarantined"
	LagUID         = "egov-pipeline-lag"
	StalledUID     = "egov-pipeline-stalled"
	LateUID        = "egov-unit-late-dossiers"
)

// Audiences, the label routing sends on: the units' focal points, or the operators who run egovtrack.
const (
	AudienceUnits     = "units"
	AudienceOffice    = "office"
	AudienceOperators = "operators"
)

// Labels every unit rule's instances carry, from the query's string columns.
var UnitLabels = []string{"unit_kind", "unit_code", "unit_name"}

// Config holds the rules' thresholds; the defaults are what the committed files hold.
type Config struct {
	// SilentGraceDays is how many days past its cadence a unit may go without a report before it is reminded.
	SilentGraceDays int
	// BehindPoints and BehindDays: a unit is reminded when its coverage was more than BehindPoints percentage points
	// below its trajectory on each of the last BehindDays days (not on one bad day).
	BehindPoints, BehindDays int
	// QuarantinedPerHour is how many messages quarantined within an hour the operators are told of (more than).
	QuarantinedPerHour int
	// LagSeconds is the ingestion lag (JetStream to ClickHouse) the 95th percentile of the last 15 minutes' events
	// may reach.
	LagSeconds int
	// StalledHours is how long nothing may be projected while some unit is due to report.
	StalledHours int
	// LatePercent and LateMinSettled: a unit is reminded when more than LatePercent of the dossiers it settled in the
	// last 30 days were late (Decision 766's indicator 2.1 gives full marks at none late), once it settled at least
	// LateMinSettled of them (a few dossiers make no rate).
	LatePercent, LateMinSettled int
}

// Defaults are the thresholds of the committed rules.
var Defaults = Config{SilentGraceDays: 0, BehindPoints: 5, BehindDays: 7, QuarantinedPerHour: 0, LagSeconds: 60, StalledHours: 6,
	LatePercent: 10, LateMinSettled: 20}

// File is a Grafana alerting provisioning file of rule groups.
type File struct {
	APIVersion int     `json:"apiVersion"`
	Groups     []Group `json:"groups"`
}

// Group is one rule group, evaluated every Interval, in the form of Grafana's file provisioning (AlertRuleGroupV1).
type Group struct {
	OrgID    int64  `json:"orgId"`
	Name     string `json:"name"`
	Folder   string `json:"folder"`
	Interval string `json:"interval"`
	Rules    []Rule `json:"rules"`
}

// Rule is the SDK's rule with the file format's link to a dashboard panel, which the HTTP API's form carries in
// annotations instead.
type Rule struct {
	alerting.Rule
	DashboardUID string `json:"dashboardUid,omitempty"`
	PanelID      int64  `json:"panelId,omitempty"`
}

// Rules returns the rule groups for cfg.
func Rules(cfg Config) (File, error) {
	silent, err := unitSilent(cfg)
	if err != nil {
		return File{}, err
	}
	quarantined, err := pipelineQuarantined(cfg)
	if err != nil {
		return File{}, err
	}
	deadline, err := nationalDeadline()
	if err != nil {
		return File{}, err
	}
	behind, err := unitBehind(cfg)
	if err != nil {
		return File{}, err
	}
	lag, err := pipelineLag(cfg)
	if err != nil {
		return File{}, err
	}
	stalled, err := pipelineStalled(cfg)
	if err != nil {
		return File{}, err
	}
	late, err := unitLate(cfg)
	if err != nil {
		return File{}, err
	}
	return File{APIVersion: 1, Groups: []Group{
		{OrgID: 1, Name: UnitsGroup, Folder: Folder, Interval: "1h", Rules: []Rule{silent, behind, deadline, late}},
		{OrgID: 1, Name: PipelineGroup, Folder: Folder, Interval: "1m", Rules: []Rule{quarantined, lag, stalled}},
	}}, nil
}

// UnitSilentSQL is one row per unit: its kind, code and name, and overdue_days, how many days its latest report is
// older than its cadence (the grace included; 36,500 when it never reported), so that a unit is silent when the value
// is above 0.
func UnitSilentSQL(graceDays int) string {
	return fmt.Sprintf(`SELECT
    kind AS unit_kind,
    substring(ref, length(kind) + 2) AS unit_code,
    name AS unit_name,
    toFloat64(ifNull(days_since - cadence_days - %d, 36500)) AS overdue_days
FROM %s
ORDER BY unit_kind, unit_code`, graceDays, board.ReportFreshness)
}

// BehindSQL is one row per unit with coverage in the days days up to the latest day with coverage (within the 31 days
// up to $__toTime: until the day's first change is projected, the latest is yesterday): its kind, code and name, and
// days_behind, on how many of those days its level-4 coverage was more than points percentage points below
// its trajectory (its own target's when one is set for it, the national one otherwise: board.ScopeOf). A unit is
// behind when that is every one of the days.
func BehindSQL(points, days int) string {
	return fmt.Sprintf(`SELECT
    unit_kind,
    unit_code,
    unit_name,
    toFloat64(assumeNotNull(days_behind)) AS days_behind
FROM
(
    SELECT
        unit_kind,
        unit_code,
        concat(unit_kind, '/', unit_code) AS ref,
        countIf(eligible > 0 AND trajectory IS NOT NULL AND 100 * level4 / eligible < trajectory - %d) AS days_behind
    FROM
    (
        SELECT
            unit_kind,
            unit_code,
            eligible,
            level4,
            %s AS trajectory
        FROM
        (
            SELECT
                unit_kind,
                unit_code,
                day,
                %s AS scope,
                eligible,
                level4
            FROM %s AS coverage
        ) AS unit_days
        ANY LEFT JOIN
        %s AS target USING scope
    )
    GROUP BY unit_kind, unit_code
) AS behind
ANY INNER JOIN `+namesByRef+` USING ref
ORDER BY unit_kind, unit_code`, points, board.TrajectoryOn("day"), board.ScopeOf("concat(unit_kind, '/', unit_code)"),
		board.CoverageIn(board.AsWasSQL, fmt.Sprintf(`day IN
            (
                SELECT arrayJoin(arrayMap(k -> latest - k, range(%d)))
                FROM
                (
                    SELECT max(day) AS latest
                    FROM coverage_daily /* no FINAL: every version of a row has the same day */
                    WHERE day > toDate($__toTime, 'Asia/Ho_Chi_Minh') - 31 AND day <= toDate($__toTime, 'Asia/Ho_Chi_Minh')
                    HAVING count() > 0
                )
            )`, days)), board.TargetsByScope)
}

// namesByRef joins today's name of each unit, as unit_name, on ref (kind/code): the unit rules' label.
const namesByRef = `(
    SELECT ref, name AS unit_name
    FROM ` + board.UnitNames + ` AS named
) AS names`

// LateSQL is one row per unit that settled at least minSettled dossiers in the 30 Vietnamese days up to $__toTime:
// its kind, code and name, and late_percent, the share of them settled after their due time, in percent.
func LateSQL(minSettled int) string {
	return fmt.Sprintf(`SELECT
    unit_kind,
    unit_code,
    unit_name,
    toFloat64(100 * (settled_all - on_time) / settled_all) AS late_percent
FROM
(
    SELECT
        unit_kind,
        unit_code,
        concat(unit_kind, '/', unit_code) AS ref,
        sum(settled) AS settled_all,
        sum(settled_on_time) AS on_time
    FROM dossier_counts FINAL
    WHERE grain = 'day' AND period > toDate($__toTime, 'Asia/Ho_Chi_Minh') - 30 AND period <= toDate($__toTime, 'Asia/Ho_Chi_Minh')
    GROUP BY unit_kind, unit_code
    HAVING settled_all >= %d
) AS late
ANY INNER JOIN `+namesByRef+` USING ref
ORDER BY unit_kind, unit_code`, minSettled)
}

func unitLate(cfg Config) (Rule, error) {
	return rule(UnitsGroup, LateUID, "Đơn vị giải quyết hồ sơ trễ hạn / A unit settles dossiers late", LateSQL(cfg.LateMinSettled),
		float64(cfg.LatePercent),
		map[string]string{"severity": "warning", "audience": AudienceUnits},
		map[string]string{
			"summary": fmt.Sprintf("{{ $labels.unit_name }}: {{ $values.A.Value }}%% hồ sơ giải quyết trong 30 ngày qua bị trễ hạn (ngưỡng %d%%) / "+
				"{{ $labels.unit_name }}: {{ $values.A.Value }}%% of the dossiers settled in the last 30 days were late (threshold %d%%)",
				cfg.LatePercent, cfg.LatePercent),
			"description": "Chỉ số 2.1 của Quyết định 766 (hồ sơ giải quyết trước hạn, đúng hạn) của {{ $labels.unit_name }} đang giảm: " +
				"đề nghị đầu mối rà soát các thủ tục có nhiều hồ sơ trễ hạn. / {{ $labels.unit_name }}'s indicator 2.1 of Decision 766 " +
				"(dossiers settled on time) is falling: its focal point is asked to review the procedures with the most late " +
				"dossiers (the scorecard dashboard lists them).",
			"dashboard_url": "d/" + board.ScorecardUID + "?var-" + board.UnitVar + "={{ $labels.unit_kind }}/{{ $labels.unit_code }}",
		},
		board.ScorecardUID, 4, "0s")
}

// DeadlineSQL is how many days after the national target's deadline national level-4 coverage reaches 100% at the
// pace of the last 30 days up to the evaluation day (board.ForecastSQL, with the target in force): -1 once reached,
// 36,500 when it does not rise (or cannot be worked out), no row without a target or without coverage. The country
// will miss the deadline when the value is above 0.
var DeadlineSQL = `SELECT
    toFloat64(assumeNotNull(multiIf(
        forecast = 'reached', -1,
        days_to_full IS NULL, 36500,
        toInt64(toDate(day)) + assumeNotNull(days_to_full) - toInt64(t_deadline)))) AS days_late
FROM
(
    SELECT 'national' AS scope, day, days_to_full, forecast
    FROM
    (
` + board.ForecastSQL + `
    )
    WHERE forecast IS NOT NULL
) AS forecast
ANY INNER JOIN
` + board.NationalTarget + ` AS target USING scope`

// QuarantinedSQL is the messages quarantined that were received in the hour before $__toTime.
const QuarantinedSQL = `SELECT toFloat64(count()) AS messages
FROM quarantine FINAL
WHERE received_at > ($__toTime) - 3600 AND received_at <= ($__toTime)`

func unitSilent(cfg Config) (Rule, error) {
	return rule(UnitsGroup, UnitSilentUID, "Đơn vị chưa báo cáo đúng hạn / A unit has gone silent", UnitSilentSQL(cfg.SilentGraceDays), 0,
		map[string]string{"severity": "warning", "audience": AudienceUnits},
		map[string]string{
			"summary": "{{ $labels.unit_name }} chưa gửi báo cáo quá chu kỳ {{ $values.A.Value }} ngày / " +
				"{{ $labels.unit_name }} has not reported for {{ $values.A.Value }} days past its cadence",
			"description": "Đơn vị {{ $labels.unit_name }} ({{ $labels.unit_kind }}/{{ $labels.unit_code }}) chưa gửi báo cáo " +
				"tình hình dịch vụ công trực tuyến theo chu kỳ quy định. Đề nghị đầu mối của đơn vị gửi báo cáo. / " +
				"{{ $labels.unit_name }} has sent no report on its online services within its expected cadence: its focal " +
				"point is asked to report.",
			"dashboard_url": "d/" + board.UnitUID + "?var-" + board.UnitVar + "={{ $labels.unit_kind }}/{{ $labels.unit_code }}",
		},
		board.HealthUID, 4, "48h")
}

func unitBehind(cfg Config) (Rule, error) {
	return rule(UnitsGroup, BehindUID, "Đơn vị chậm so với lộ trình / A unit is behind its trajectory", BehindSQL(cfg.BehindPoints, cfg.BehindDays),
		float64(cfg.BehindDays-1),
		map[string]string{"severity": "warning", "audience": AudienceUnits},
		map[string]string{
			"summary": fmt.Sprintf("{{ $labels.unit_name }} thấp hơn lộ trình quá %d điểm phần trăm suốt %d ngày qua / "+
				"{{ $labels.unit_name }} has been more than %d points below its trajectory for the last %d days",
				cfg.BehindPoints, cfg.BehindDays, cfg.BehindPoints, cfg.BehindDays),
			"description": "Tỷ lệ thủ tục đủ điều kiện đạt mức độ 4 của {{ $labels.unit_name }} thấp hơn lộ trình của mục tiêu (của đơn vị, " +
				"hoặc của cả nước): đề nghị đầu mối rà soát các thủ tục chưa đạt mức độ 4. / {{ $labels.unit_name }}'s level-4 " +
				"coverage is below the trajectory of its target (its own, or the national one): its focal point is asked to " +
				"review the procedures not yet at level 4 (its dashboard lists them by sector).",
			"dashboard_url": "d/" + board.UnitUID + "?var-" + board.UnitVar + "={{ $labels.unit_kind }}/{{ $labels.unit_code }}",
		},
		board.LeagueUID, 1, "0s")
}

func nationalDeadline() (Rule, error) {
	// Over the last 31 days: the forecast is of the latest day with coverage, which is yesterday until the day's
	// first change is projected.
	return ruleOver(UnitsGroup, DeadlineUID, "Cả nước sẽ không kịp hạn / The country will miss the deadline", DeadlineSQL, 31*86400, 0,
		map[string]string{"severity": "critical", "audience": AudienceOffice},
		map[string]string{
			"summary": "Với tốc độ 30 ngày qua, cả nước đạt 100% dịch vụ công mức độ 4 muộn {{ $values.A.Value }} ngày so với hạn / " +
				"At the pace of the last 30 days, the country reaches 100% level-4 coverage {{ $values.A.Value }} days after the deadline",
			"description": "Tốc độ chuyển đổi dịch vụ công trực tuyến mức độ 4 của 30 ngày qua không đủ để đạt mục tiêu đúng hạn: " +
				"xem các đơn vị chậm tiến độ trên bảng xếp hạng. / The level-4 conversions of the last 30 days are too slow to " +
				"meet the target on time: the league table shows the units behind. (36500 days: coverage is not rising.)",
			"dashboard_url": "d/" + board.LeagueUID,
		},
		board.NationalUID, 5, "0s")
}

// LagSQL is the share, in percent, of the events received in the 15 minutes before $__toTime that took more than
// lagSeconds to reach ClickHouse (ingestion_lag): above 5 exactly when their lag's 95th percentile (nearest rank) is
// above lagSeconds. No row when nothing was received.
func LagSQL(lagSeconds int) string {
	return fmt.Sprintf(`SELECT toFloat64(100 * sumIf(events, lag > %d) / sum(events)) AS late_percent
FROM ingestion_lag
WHERE received_at > ($__toTime) - 900 AND received_at <= ($__toTime)
HAVING sum(events) > 0`, lagSeconds)
}

// StalledSQL is the hours since the latest event was projected when some unit is due to report (its latest report
// older than its cadence, board.ReportFreshness), 0 when none is: nothing arriving is news only when something
// should. It reads the ingestion counts of the last 30 days (ingestion_lag, by its monthly partitions: the event
// received at received_at was projected lag seconds later), not the raw log, so that its cost does not grow with
// the years of history; with nothing received in 30 days, the last projection counts as 30 days ago.
var StalledSQL = `SELECT toFloat64(if(due > 0, (toUInt32($__toTime) - toUInt32(last_projected)) / 3600, 0)) AS stalled_hours
FROM
(
    SELECT
        'all' AS k,
        if(count() = 0, toDateTime($__toTime) - 2592000, max(received_at + lag)) AS last_projected
    FROM ingestion_lag
    WHERE received_at > ($__toTime) - 2592000 AND received_at <= ($__toTime)
) AS projected
ANY INNER JOIN
(
    SELECT 'all' AS k, countIf(freshness = 'stale') AS due
    FROM ` + board.ReportFreshness + `
) AS freshness USING k`

func pipelineLag(cfg Config) (Rule, error) {
	return rule(PipelineGroup, LagUID, "Dữ liệu về chậm / Ingestion is slow", LagSQL(cfg.LagSeconds), 5,
		map[string]string{"severity": "warning", "audience": AudienceOperators},
		map[string]string{
			"summary": fmt.Sprintf("{{ $values.A.Value }}%% sự kiện trong 15 phút qua về ClickHouse chậm hơn %d giây / "+
				"{{ $values.A.Value }}%% of the last 15 minutes' events took more than %d s to reach ClickHouse", cfg.LagSeconds, cfg.LagSeconds),
			"description": "Độ trễ phân vị 95 vượt ngưỡng: xem bộ chiếu dữ liệu (projector) và ClickHouse. / The ingestion lag's 95th " +
				"percentile is over its threshold: look at the projector's /healthz and at ClickHouse.",
			"dashboard_url": "d/" + board.HealthUID,
		},
		board.HealthUID, 3, "5m")
}

func pipelineStalled(cfg Config) (Rule, error) {
	return rule(PipelineGroup, StalledUID, "Không có dữ liệu mới / Nothing is projected", StalledSQL, float64(cfg.StalledHours),
		map[string]string{"severity": "critical", "audience": AudienceOperators},
		map[string]string{
			"summary": "Không có sự kiện nào được ghi trong {{ $values.A.Value }} giờ dù có đơn vị đến hạn báo cáo / " +
				"Nothing projected for {{ $values.A.Value }} hours while units are due to report",
			"description": "Bộ thu thập, NATS hoặc bộ chiếu dữ liệu có thể đã dừng. / A collector, NATS or the projector may have " +
				"stopped: look at the projector's /healthz and the stream's consumer.",
			"dashboard_url": "d/" + board.HealthUID,
		},
		board.HealthUID, 4, "0s")
}

func pipelineQuarantined(cfg Config) (Rule, error) {
	return rule(PipelineGroup, QuarantinedUID, "Thông điệp bị từ chối / Messages quarantined", QuarantinedSQL, float64(cfg.QuarantinedPerHour),
		map[string]string{"severity": "warning", "audience": AudienceOperators},
		map[string]string{
			"summary": "{{ $values.A.Value }} thông điệp bị từ chối trong giờ qua / " +
				"{{ $values.A.Value }} messages quarantined in the last hour",
			"description": "Bộ chiếu dữ liệu đã từ chối thông điệp: xem lý do trong bảng quarantine. / The projector " +
				"quarantined messages in the last hour: their reasons are in the quarantine table and on the health dashboard.",
		},
		board.HealthUID, 5, "0s")
}

// rule is one query (A) and the threshold "A above threshold" (B, the condition). Pending for pendingFor before it
// fires; no data is OK (nothing to remind of), an error of the query an error.
func rule(group, uid, title, sql string, threshold float64, labels, annotations map[string]string, dashboardUID string, panelID int64, pendingFor string) (Rule, error) {
	return ruleOver(group, uid, title, sql, 600, threshold, labels, annotations, dashboardUID, panelID, pendingFor)
}

// ruleOver is rule with the queries' time range reaching lookback seconds back (the SQL's $__fromTime).
func ruleOver(group, uid, title, sql string, lookback int64, threshold float64, labels, annotations map[string]string, dashboardUID string, panelID int64, pendingFor string) (Rule, error) {
	query := alerting.NewQueryBuilder("A").
		DatasourceUid(board.DatasourceUID).
		RelativeTimeRange(alerting.Duration(lookback), 0).
		Model(chquery.NewBuilder(board.DatasourceUID).RefID("A").SQL(sql).Table())
	cond := alerting.NewQueryBuilder("B").
		DatasourceUid(ExpressionDatasource).
		RelativeTimeRange(alerting.Duration(lookback), 0).
		Model(expr.NewExprBuilder().TypeThreshold(expr.NewTypeThresholdBuilder().
			RefId("B").
			Expression("A").
			Conditions([]cog.Builder[expr.ExprTypeThresholdConditions]{
				expr.NewExprTypeThresholdConditionsBuilder().Evaluator(
					expr.NewExprTypeThresholdConditionsEvaluatorBuilder().
						Type(expr.ExprTypeThresholdConditionsEvaluatorTypeGt).
						Params([]float64{threshold})),
			})))
	r, err := alerting.NewRuleBuilder(title).
		Uid(uid).
		FolderUID(FolderUID).
		RuleGroup(group).
		OrgID(1).
		WithQuery(query).
		WithQuery(cond).
		Condition("B").
		For(pendingFor).
		NoDataState(alerting.RuleNoDataStateOK).
		ExecErrState(alerting.RuleExecErrStateError).
		Labels(labels).
		Annotations(annotations).
		Build()
	if err != nil {
		return Rule{}, fmt.Errorf("rule %s: %w", uid, err)
	}
	return Rule{Rule: r, DashboardUID: dashboardUID, PanelID: panelID}, nil
}

// ExpressionDatasource is the uid Grafana gives its server-side expressions.
const ExpressionDatasource = "__expr__"
