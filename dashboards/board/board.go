// Package board holds egovtrack's Grafana dashboards, built with grafana-foundation-sdk, and the SQL of their panels.
// Every panel reads ClickHouse through the grafana-clickhouse-datasource plugin (see chquery), chosen by the
// dashboard variable DatasourceVar, which starts on the datasource that deploy/grafana provisions.
//
// The five dashboards link to each other, keeping the time range and the variables; tables link each unit to the
// unit dashboard with the unit selected.
package board

import (
	"fmt"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/event"
)

const (
	// DatasourceUID is the uid of the provisioned ClickHouse datasource.
	DatasourceUID = "egov-clickhouse"
	// DatasourceName is its name in Grafana.
	DatasourceName = "ClickHouse (egov)"
	// DatasourceVar is the dashboard variable that picks the datasource; panels use it as "${datasource}".
	DatasourceVar = "datasource"
)

// The dashboards' uids: fixed, so that links and bookmarks survive regeneration.
const (
	NationalUID  = "egov-national"
	LeagueUID    = "egov-league"
	UnitUID      = "egov-unit"
	AssistantUID = "egov-assistant"
	HealthUID    = "egov-health"
)

// Titles are the dashboards' titles by uid, in the order of All; links between the dashboards use them.
var Titles = []struct{ UID, Title string }{
	{NationalUID, "National overview: level-4 online public services"},
	{LeagueUID, "League table: ministries and provinces"},
	{UnitUID, "Unit detail"},
	{AssistantUID, "Virtual assistant rollout"},
	{ScorecardUID, "Bộ chỉ số 766: the Decision 766 scorecard"},
	{HealthUID, "Reporting health"},
}

// All builds every dashboard, in the order of Titles.
func All() ([]dashboard.Dashboard, error) {
	builds := map[string]func() (dashboard.Dashboard, error){
		NationalUID: National, LeagueUID: League, UnitUID: Unit, AssistantUID: Assistant, HealthUID: Health,
		ScorecardUID: Scorecard,
	}
	out := make([]dashboard.Dashboard, 0, len(Titles))
	for _, t := range Titles {
		d, err := builds[t.UID]()
		if err != nil {
			return nil, fmt.Errorf("build dashboard %s: %w", t.UID, err)
		}
		out = append(out, d)
	}
	return out, nil
}

func title(uid string) string {
	for _, t := range Titles {
		if t.UID == uid {
			return t.Title
		}
	}
	panic("board: no dashboard " + uid)
}

// The 2021 campaign sets the default time range. The minister's mid-year review asked to raise level-4 coverage from
// 40% (mid-2021) to 100% by the end of 2021, and the digital office briefs on that campaign: the dashboards open on
// it, from 1 June 2021 (the month before the baseline) to 15 January 2022 (two weeks past the deadline, so that the
// year-end result is in view), whenever they are opened. A relative range (now-…) would open on an empty chart as
// soon as the campaign is over, and on history being replayed. The edges are Vietnamese midnights, written in UTC as
// Grafana saves absolute times. Reporting health is the exception: it is about the pipeline today.
var (
	campaignFrom = time.Date(2021, time.June, 1, 0, 0, 0, 0, event.Vietnam)
	campaignTo   = time.Date(2022, time.January, 15, 23, 59, 59, 0, event.Vietnam)
)

func grafanaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// newDashboard starts a dashboard with what all of them share: read-only, Vietnam's zone and week, the campaign's
// time range, the datasource variable and links to the other dashboards.
func newDashboard(uid, description string, tags ...string) *dashboard.DashboardBuilder {
	b := dashboard.NewDashboardBuilder(title(uid)).
		Uid(uid).
		Description(description).
		Tags(append([]string{"egovtrack"}, tags...)).
		Readonly().
		Timezone("Asia/Ho_Chi_Minh").
		WeekStart("monday").
		Time(grafanaTime(campaignFrom), grafanaTime(campaignTo)).
		WithVariable(datasourceVariable())
	for _, t := range Titles {
		if t.UID != uid {
			b.Link(dashboardLink(t.UID))
		}
	}
	return b
}

// finish builds a dashboard and takes its links out of the controls menu, where the SDK puts them by default (a
// Grafana 12 option): without a placement they show in the dashboard's header, in every Grafana version.
func finish(d dashboard.Dashboard, err error) (dashboard.Dashboard, error) {
	for i := range d.Links {
		d.Links[i].Placement = nil
	}
	return d, err
}

// dashboardLink is a link in a dashboard's header to another dashboard, by uid, keeping the time range and the
// variables (the datasource, and the unit when there is one).
func dashboardLink(uid string) *dashboard.DashboardLinkBuilder {
	return dashboard.NewDashboardLinkBuilder(title(uid)).
		Type(dashboard.DashboardLinkTypeLink).
		Url(DashboardPath(uid)).
		Icon("dashboard").
		Tooltip("").
		KeepTime(true).
		IncludeVars(true).
		TargetBlank(false).
		AsDropdown(false)
}

// DashboardPath is where Grafana serves the dashboard with the given uid.
func DashboardPath(uid string) string { return "/d/" + uid }

// datasourceVariable lets a viewer pick another ClickHouse datasource; it starts on the provisioned one.
func datasourceVariable() *dashboard.DatasourceVariableBuilder {
	return dashboard.NewDatasourceVariableBuilder(DatasourceVar).
		Label("Nguồn dữ liệu / Data source").
		Type(chquery.PluginType).
		Current(dashboard.VariableOption{
			Text:  dashboard.StringOrArrayOfString{String: cog.ToPtr(DatasourceName)},
			Value: dashboard.StringOrArrayOfString{String: cog.ToPtr(DatasourceUID)},
		})
}

// datasourceRef is how panels and targets name the datasource: through the variable.
const datasourceRef = "${" + DatasourceVar + "}"

// query starts a target on the dashboard's datasource variable.
func query(refID, sql string) *chquery.Builder {
	return chquery.NewBuilder(datasourceRef).RefID(refID).SQL(sql)
}

// unitLink is a data link from a table row to the unit dashboard with the row's unit selected: refField names the
// column holding the unit's reference ("province/01"). The datasource and the time range go along.
func unitLink(refField string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "links", Value: []any{map[string]any{
		"title": "Xem chi tiết / Open the unit",
		"url": DashboardPath(UnitUID) + "?var-" + UnitVar + "=${__data.fields." + refField + "}" +
			"&${" + DatasourceVar + ":queryparam}&${__url_time_range}",
	}}}
}

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

// step is a threshold from value on; the first step of a list has no value (from minus infinity).
func step(color string, from *float64) dashboard.Threshold {
	return dashboard.Threshold{Color: color, Value: from}
}

// bigNumber is a stat panel showing one number of a table query.
func bigNumber(id uint32, title, description, sql string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Id(id).
		Title(title).
		Description(description).
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", sql).Table()).
		Height(5).
		Span(6).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValue).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

// count is a stat panel of a number of units or messages.
func count(id uint32, title, description, sql string) *stat.PanelBuilder {
	return bigNumber(id, title, description, sql).
		Unit("none").
		Decimals(0).
		Thresholds(thresholds(step("text", nil)))
}

// word is a stat panel showing one text column of a table query, translated by mappings.
func word(id uint32, title, description, sql, field string, mappings []dashboard.ValueMapping) *stat.PanelBuilder {
	return bigNumber(id, title, description, sql).
		Unit("string").
		ColorMode(common.BigValueColorModeValue).
		Mappings(mappings).
		Thresholds(thresholds(step("text", nil))).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false).Fields("/^" + field + "$/"))
}

// dataTable is a table panel: the "show the data" under a chart, or a list.
func dataTable(id uint32, title, description, sql string) *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(id).
		Title(title).
		Description(description).
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", sql).Table()).
		Height(10).
		Span(24).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{})).
		Unit("none").
		Decimals(0)
}

// displayName renames a result column for viewers.
func displayName(name string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "displayName", Value: name}
}

func unit(u string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "unit", Value: u}
}

func decimals(n int) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "decimals", Value: n}
}

// column is the field config of one table column: its name for viewers and its unit.
func column(name, u string, more ...dashboard.DynamicConfigValue) []dashboard.DynamicConfigValue {
	return append([]dashboard.DynamicConfigValue{displayName(name), unit(u)}, more...)
}

// percent is a column of percentages with one decimal.
func percent(name string) []dashboard.DynamicConfigValue {
	return column(name, "percent", decimals(1))
}

// points is a column of percentage points (differences of percentages) with one decimal.
func points(name string, more ...dashboard.DynamicConfigValue) []dashboard.DynamicConfigValue {
	return column(name, "suffix: pp", append([]dashboard.DynamicConfigValue{decimals(1)}, more...)...)
}

// label is how a code shows: its text and colour.
type label struct {
	code, text, color string
}

// valueMappings maps codes to texts and colours, for a panel's defaults.
func valueMappings(labels []label) []dashboard.ValueMapping {
	opts := map[string]dashboard.ValueMappingResult{}
	for i, l := range labels {
		opts[l.code] = dashboard.ValueMappingResult{Text: cog.ToPtr(l.text), Color: cog.ToPtr(l.color), Index: cog.ToPtr(int32(i))}
	}
	return []dashboard.ValueMapping{{ValueMap: &dashboard.ValueMap{Type: dashboard.MappingTypeValueToText, Options: opts}}}
}

// mappingsProperty maps codes to texts and colours, for one column of a table. It is written with maps, as Grafana
// reads it back: an override's value has no type in the SDK, so a decoded dashboard holds maps, whose keys encode
// in sorted order, and the round trip gives the same JSON.
func mappingsProperty(labels []label) dashboard.DynamicConfigValue {
	opts := map[string]any{}
	for i, l := range labels {
		opts[l.code] = map[string]any{"color": l.color, "index": i, "text": l.text}
	}
	return dashboard.DynamicConfigValue{Id: "mappings", Value: []any{map[string]any{"options": opts, "type": "value"}}}
}

// colouredCells colours a table column's cells by its mappings' colours.
func colouredCells() dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "custom.cellOptions", Value: map[string]any{"type": "color-background"}}
}

// statusLabels say what a unit's status means (see unitStatus).
var statusLabels = []label{
	{statusFull, "100%", "green"},
	{statusOnTrack, "Đúng lộ trình / on track", "blue"},
	{statusBehind, "Chậm / behind", "red"},
	{statusNoTarget, "Chưa có mục tiêu / no target", "text"},
	{statusNoEligible, "Không có TTHC đủ điều kiện / nothing eligible", "text"},
}

// kindLabels name the two kinds of unit.
var kindLabels = []label{
	{"ministry", "Bộ, ngành / ministry", "text"},
	{"province", "Tỉnh, thành phố / province", "text"},
}

// stageLabels name the virtual assistant's stages; the numbers are the stage's rank (the Enum8 of the schema), -1
// for a unit that has reported no stage.
var stageLabels = []label{
	{"-1", "Chưa báo cáo / not reported", "#8e8e8e"},
	{"0", "Chưa bắt đầu / not started", "#c4c4c4"},
	{"1", "Kế hoạch / planned", "blue"},
	{"2", "Thí điểm / pilot", "orange"},
	{"3", "Vận hành / live", "green"},
}

// stageNameLabels are stageLabels by the stage's name, as the SQL returns it in text columns.
var stageNameLabels = []label{
	{stageNotReported, "Chưa báo cáo / not reported", "#8e8e8e"},
	{string(event.StageNotStarted), "Chưa bắt đầu / not started", "#c4c4c4"},
	{string(event.StagePlanned), "Kế hoạch / planned", "blue"},
	{string(event.StagePilot), "Thí điểm / pilot", "orange"},
	{string(event.StageLive), "Vận hành / live", "green"},
}
