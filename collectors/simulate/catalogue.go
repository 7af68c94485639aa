package simulate

import (
	"unicode"
	"unicode/utf8"
)

// sectors are the fields (lĩnh vực) procedures are grouped by, each with the bases of its procedures' names. The
// simulated names are composed from them: plausible to a reader, not a copy of the national database.
var sectors = []struct {
	name  string
	bases []string
}{
	{"Hộ tịch", []string{"đăng ký khai sinh", "đăng ký kết hôn", "đăng ký khai tử", "cấp bản sao trích lục hộ tịch", "xác nhận tình trạng hôn nhân", "đăng ký thay đổi, cải chính hộ tịch"}},
	{"Đất đai", []string{"đăng ký biến động đất đai", "cấp giấy chứng nhận quyền sử dụng đất", "chuyển mục đích sử dụng đất", "đính chính giấy chứng nhận", "tách thửa hoặc hợp thửa đất"}},
	{"Xây dựng", []string{"cấp giấy phép xây dựng", "thẩm định thiết kế cơ sở", "cấp chứng chỉ hành nghề hoạt động xây dựng", "cấp giấy phép di dời công trình"}},
	{"Đầu tư", []string{"cấp giấy chứng nhận đăng ký đầu tư", "điều chỉnh dự án đầu tư", "chấp thuận chủ trương đầu tư", "giãn tiến độ đầu tư"}},
	{"Thành lập và hoạt động doanh nghiệp", []string{"đăng ký thành lập doanh nghiệp", "đăng ký thay đổi nội dung đăng ký doanh nghiệp", "thông báo tạm ngừng kinh doanh", "đăng ký hộ kinh doanh"}},
	{"Giáo dục và Đào tạo", []string{"công nhận tốt nghiệp", "cấp bản sao văn bằng, chứng chỉ", "cho phép trường hoạt động giáo dục", "chuyển trường đối với học sinh"}},
	{"Y tế", []string{"cấp chứng chỉ hành nghề khám bệnh, chữa bệnh", "cấp giấy phép hoạt động cơ sở khám bệnh", "cấp giấy chứng nhận đủ điều kiện kinh doanh dược", "công bố cơ sở đủ điều kiện sản xuất mỹ phẩm"}},
	{"Giao thông vận tải", []string{"cấp giấy phép lái xe", "đổi giấy phép lái xe", "cấp phù hiệu xe kinh doanh vận tải", "cấp giấy phép kinh doanh vận tải bằng xe ô tô"}},
	{"Lao động - Thương binh và Xã hội", []string{"cấp giấy phép lao động cho người nước ngoài", "giải quyết trợ cấp thất nghiệp", "đăng ký nội quy lao động", "xác nhận người có công"}},
	{"Tài nguyên và Môi trường", []string{"cấp giấy phép khai thác nước dưới đất", "thẩm định báo cáo đánh giá tác động môi trường", "cấp giấy phép xả thải vào nguồn nước", "đăng ký kế hoạch bảo vệ môi trường"}},
	{"Công Thương", []string{"cấp giấy phép bán lẻ sản phẩm rượu", "cấp giấy chứng nhận đủ điều kiện an toàn thực phẩm", "cấp giấy phép kinh doanh xăng dầu", "xác nhận đăng ký tổ chức hội chợ"}},
	{"Nông nghiệp và Phát triển nông thôn", []string{"cấp giấy chứng nhận kiểm dịch động vật", "cấp giấy phép khai thác thủy sản", "công nhận làng nghề", "cấp giấy chứng nhận cơ sở an toàn dịch bệnh"}},
	{"Văn hóa, Thể thao và Du lịch", []string{"cấp giấy phép kinh doanh lữ hành", "cấp giấy phép tổ chức biểu diễn nghệ thuật", "công nhận hạng cơ sở lưu trú du lịch", "cấp giấy phép kinh doanh karaoke"}},
	{"Thông tin và Truyền thông", []string{"cấp giấy phép xuất bản bản tin", "cấp giấy phép thiết lập trang thông tin điện tử tổng hợp", "cấp giấy phép hoạt động in", "cấp giấy phép sử dụng tần số vô tuyến điện"}},
	{"Tư pháp", []string{"cấp phiếu lý lịch tư pháp", "chứng thực bản sao từ bản chính", "đăng ký hành nghề công chứng", "cấp thẻ đấu giá viên"}},
	{"Nội vụ", []string{"thành lập hội", "công nhận ban vận động thành lập hội", "xét tặng danh hiệu thi đua", "đăng ký hoạt động tín ngưỡng"}},
	{"Tài chính", []string{"đăng ký mã số đơn vị có quan hệ với ngân sách", "xác định giá đất cụ thể", "cấp chứng chỉ hành nghề thẩm định giá", "hoàn thuế giá trị gia tăng"}},
	{"Khoa học và Công nghệ", []string{"cấp giấy chứng nhận doanh nghiệp khoa học và công nghệ", "đăng ký chuyển giao công nghệ", "cấp giấy phép tiến hành công việc bức xạ", "đăng ký kết quả nhiệm vụ khoa học"}},
}

// variants turn one base into several procedures, as the national database does (first issue, re-issue, change).
var variants = []string{"", "Cấp lại ", "Điều chỉnh, bổ sung ", "Gia hạn "}

func procedureName(variant, base string) string {
	if variant == "" {
		return upperFirst(base)
	}
	return variant + base
}

func upperFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}
