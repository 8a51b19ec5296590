"""What each audit event is called in the back office: one table from the key the services write
(`dossier.started`) to the words an administrator reads ("Hồ sơ được tiếp nhận").

tests/admin/test_events.py reads every place in onestop that writes an audit event and fails if a
key it can write has no label here; a key that is not in the table is shown as it is, never hidden.
"""

EVENT_LABELS = {
    "audit.rekeyed": "Khóa ký nhật ký được thay",
    "calendar.day_cleared": "Bỏ ngày ngoại lệ của lịch làm việc",
    "calendar.day_set": "Ghi ngày ngoại lệ của lịch làm việc",
    "calendar.hours_set": "Ghi giờ làm việc",
    "calendar.official_day_cleared": "Bỏ một ngày của lịch quốc gia",
    "calendar.official_day_set": "Ghi một ngày của lịch quốc gia",
    "calendar.official_imported": "Nhập lịch nghỉ lễ quốc gia",
    "catalogue.imported": "Nhập danh mục thủ tục",
    "centre.updated": "Sửa thông tin trung tâm",
    "centres.codes_imported": "Nhập mã định danh điện tử",
    "centres.handed_over": "Bàn giao hồ sơ sau sáp nhập",
    "centres.imported": "Nhập danh sách tỉnh, xã",
    "centres.merged": "Sáp nhập trung tâm",
    "centres.moved": "Chuyển trung tâm sang đơn vị cấp trên khác",
    "dossier.apology": "Gửi thư xin lỗi, hẹn lại ngày trả",
    "dossier.completed": "Hồ sơ hoàn thành quy trình",
    "dossier.error": "Hồ sơ gặp sự cố",
    "dossier.financial_obligation_awaited": "Chờ thực hiện nghĩa vụ tài chính",
    "dossier.financial_obligation_met": "Đã thực hiện nghĩa vụ tài chính",
    "dossier.handed_over": "Hồ sơ được bàn giao cho trung tâm mới",
    "dossier.history_sealed": "Niêm phong lịch sử hồ sơ",
    "dossier.migrated": "Hồ sơ chuyển sang phiên bản quy trình mới",
    "dossier.not_accepted": "Không tiếp nhận hồ sơ",
    "dossier.rated": "Người dân đánh giá",
    "dossier.retried": "Chạy lại bước gặp sự cố",
    "dossier.started": "Tiếp nhận hồ sơ",
    "dossier.step_skipped": "Bỏ qua bước gặp sự cố",
    "dossier.stopped": "Dừng xử lý hồ sơ",
    "dossier.supplement_received": "Nhận hồ sơ bổ sung",
    "dossier.supplement_requested": "Yêu cầu bổ sung hồ sơ",
    "dossier.withdrawn": "Người nộp rút hồ sơ",
    "draft.created": "Tạo bản nháp thủ tục",
    "draft.saved": "Lưu bản nháp thủ tục",
    "draft.uploaded": "Tải lên bản nháp thủ tục",
    "message.delivered": "Nhận thông điệp từ hệ thống khác",
    "pack.published": "Công bố gói thủ tục",
    "procedure.adopted": "Áp dụng thủ tục mẫu",
    "procedure.local_override": "Điều chỉnh thủ tục cho địa phương",
    "procedure.published": "Công bố phiên bản thủ tục",
    "procedure.uploaded": "Tải lên phiên bản thủ tục",
    "task.claimed": "Nhận xử lý một bước",
    "task.completed": "Hoàn thành một bước",
    "task.released": "Trả lại một bước",
    "timers.fired": "Đến hạn hẹn giờ",
    "token.issued": "Cấp khóa truy cập API",
    "unit.created": "Tạo đơn vị",
    "user.created": "Tạo người dùng",
    "user.password_change_refused": "Đổi mật khẩu bị từ chối",
    "user.password_changed": "Đổi mật khẩu",
    "user.sign_in_failed": "Đăng nhập không thành công",
    "user.signed_in": "Đăng nhập",
    "user.unit_set": "Xếp người dùng vào đơn vị",
    "user.updated": "Sửa người dùng",
}


def event_label(key: str) -> str:
    """The Vietnamese name of an audit event; an unknown key as it is."""
    return EVENT_LABELS.get(key, key)
