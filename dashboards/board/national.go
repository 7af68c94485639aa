package board

import (
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/table"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"

	"github.com/egovtrack/egovtrack/dashboards/chquery"
	"github.com/egovtrack/egovtrack/internal/event"
)

// NationalUID is the national overview's uid: fixed, so that links and bookmarks to it survive regeneration.
const NationalUID = "egov-national"

// The 2021 campaign sets the default time range. The minister's mid-year review asked to raise level-4 coverage from
// 40% (mid-2021) to 100% by the end of 2021, and the digital office briefs on that campaign: the dashboard opens on
// it, from 1 June 2021 (the month before the baseline) to 15 January 2022 (two weeks past the deadline, so that the
// year-end result is in view), whenever it is opened. A relative range (now-…) would open on an empty chart as soon
// as the campaign is over, and on history being replayed. The edges are Vietnamese midnights, written in UTC as
// Grafana saves absolute times.
var (
	campaignFrom = time.Date(2021, time.June, 1, 0, 0, 0, 0, event.Vietnam)
	campaignTo   = time.Date(2022, time.January, 15, 23, 59, 59, 0, event.Vietnam)
)

func grafanaTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// National is the national overview for the digital office: level-4 coverage now and against its trajectory, units
// at 100%, virtual assistants live, and the daily numbers under the chart.
func National() (dashboard.Dashboard, error) {
	return dashboard.NewDashboardBuilder("National overview: level-4 online public services").
		Uid(NationalUID).
		Description("Tổng quan toàn quốc: tỷ lệ dịch vụ công trực tuyến mức độ 4 và trợ lý ảo. "+
			"Level-4 coverage of eligible online public services and virtual assistants, all ministries and provinces.").
		Tags([]string{"egovtrack", "national"}).
		Readonly().
		Timezone("Asia/Ho_Chi_Minh").
		WeekStart("monday").
		Time(grafanaTime(campaignFrom), grafanaTime(campaignTo)).
		WithVariable(datasourceVariable()).
		WithPanel(coverageNow()).
		WithPanel(unitsAtFull()).
		WithPanel(assistantLive()).
		WithPanel(coverageChart()).
		WithPanel(coverageTable()).
		Build()
}

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

// query starts a target on the dashboard's datasource variable.
func query(refID, sql string) *chquery.Builder {
	return chquery.NewBuilder(datasourceRef).RefID(refID).SQL(sql)
}

// datasourceRef is how panels and targets name the datasource: through the variable.
const datasourceRef = "${" + DatasourceVar + "}"

func thresholds(steps ...dashboard.Threshold) *dashboard.ThresholdsConfigBuilder {
	return dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).Steps(steps)
}

// step is a threshold from value on; the first step of a list has no value (from minus infinity).
func step(color string, from *float64) dashboard.Threshold {
	return dashboard.Threshold{Color: color, Value: from}
}

func bigNumber(title, description, sql string) *stat.PanelBuilder {
	return stat.NewPanelBuilder().
		Title(title).
		Description(description).
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", sql).Table()).
		Height(5).
		Span(8).
		GraphMode(common.BigValueGraphModeNone).
		ColorMode(common.BigValueColorModeValue).
		TextMode(common.BigValueTextModeValue).
		Orientation(common.VizOrientationAuto).
		ReduceOptions(common.NewReduceDataOptionsBuilder().Calcs([]string{"lastNotNull"}).Values(false))
}

func coverageNow() *stat.PanelBuilder {
	return bigNumber("Level-4 coverage now",
		"Share of eligible procedures that are at level 4, all ministries and provinces, on the latest day within "+
			"the time range. Tỷ lệ thủ tục đủ điều kiện đã cung cấp trực tuyến mức độ 4, toàn quốc, ngày gần nhất.",
		coverageNowSQL).
		Id(1).
		Unit("percent").
		Decimals(1).
		Min(0).
		Max(100).
		Thresholds(thresholds(step("red", nil), step("orange", cog.ToPtr(40.0)), step("green", cog.ToPtr(100.0))))
}

func unitsAtFull() *stat.PanelBuilder {
	return bigNumber("Units at 100%",
		"Ministries and provinces whose every eligible procedure is at level 4, on the latest day within the time "+
			"range. Số bộ, ngành, địa phương đạt 100% thủ tục đủ điều kiện ở mức độ 4.",
		unitsAtFullSQL).
		Id(2).
		Unit("none").
		Decimals(0).
		Thresholds(thresholds(step("text", nil)))
}

func assistantLive() *stat.PanelBuilder {
	return bigNumber("Virtual assistant live",
		"Ministries and provinces whose virtual assistant for civil servants is in operation at the end of the time "+
			"range. Số bộ, ngành, địa phương đã đưa trợ lý ảo vào vận hành.",
		assistantLiveSQL).
		Id(3).
		Unit("none").
		Decimals(0).
		Thresholds(thresholds(step("text", nil)))
}

// displayName renames a result column for viewers.
func displayName(name string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "displayName", Value: name}
}

func unit(u string) dashboard.DynamicConfigValue {
	return dashboard.DynamicConfigValue{Id: "unit", Value: u}
}

const (
	coverageName   = "Level-4 coverage"
	trajectoryName = "Trajectory to the target"
)

func coverageChart() *timeseries.PanelBuilder {
	return timeseries.NewPanelBuilder().
		Id(4).
		Title("Coverage against the 40% → 100% trajectory").
		Description("National level-4 coverage of eligible procedures per Vietnamese day, and the trajectory of the "+
			"target in force: a straight line from its baseline to its goal by its deadline. Tỷ lệ mức độ 4 toàn quốc "+
			"theo ngày so với lộ trình mục tiêu (40% giữa năm 2021 → 100% cuối năm 2021).").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", coverageSeriesSQL).TimeSeries()).
		Height(10).
		Span(24).
		Unit("percent").
		Decimals(1).
		Min(0).
		Max(100).
		LineWidth(2).
		FillOpacity(0).
		ShowPoints(common.VisibilityModeNever).
		SpanNulls(common.BoolOrFloat64{Bool: cog.ToPtr(false)}).
		Legend(common.NewVizLegendOptionsBuilder().
			DisplayMode(common.LegendDisplayModeList).
			Placement(common.LegendPlacementBottom).
			ShowLegend(true)).
		Tooltip(common.NewVizTooltipOptionsBuilder().Mode(common.TooltipDisplayModeMulti).Sort(common.SortOrderNone)).
		OverrideByName("coverage", []dashboard.DynamicConfigValue{displayName(coverageName)}).
		OverrideByName("trajectory", []dashboard.DynamicConfigValue{
			displayName(trajectoryName),
			{Id: "custom.lineStyle", Value: map[string]any{"fill": "dash", "dash": []int{10, 10}}},
		})
}

func coverageTable() *table.PanelBuilder {
	return table.NewPanelBuilder().
		Id(5).
		Title("Show the data: national coverage per day").
		Description("The numbers behind the chart, latest day first: eligible procedures, those at level 4, coverage "+
			"and the trajectory. Số liệu theo ngày: thủ tục đủ điều kiện, thủ tục mức độ 4, tỷ lệ và lộ trình.").
		Datasource(chquery.Ref(datasourceRef)).
		WithTarget(query("A", coverageTableSQL).Table()).
		Height(10).
		Span(24).
		Footer(common.NewTableFooterOptionsBuilder().Show(false).Reducer([]string{})).
		Unit("none").
		Decimals(0).
		OverrideByName("date", []dashboard.DynamicConfigValue{displayName("Day (Vietnam)")}).
		OverrideByName("eligible", []dashboard.DynamicConfigValue{displayName("Eligible procedures")}).
		OverrideByName("level4", []dashboard.DynamicConfigValue{displayName("At level 4")}).
		OverrideByName("coverage", []dashboard.DynamicConfigValue{
			displayName(coverageName + " %"), unit("percent"), {Id: "decimals", Value: 1},
		}).
		OverrideByName("trajectory", []dashboard.DynamicConfigValue{
			displayName(trajectoryName + " %"), unit("percent"), {Id: "decimals", Value: 1},
		})
}
