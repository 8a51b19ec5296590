"""The unit tests of a generated procedure (test_<model>.json, engine.unittests' format): one case
per path its pattern has, so that together they reach every element of the model (complete
coverage), each naming the lane every task must be offered in and the end it must reach."""

from __future__ import annotations

RECEIVED = {"applicant_full_name": "Trần Thị Mai", "applicant_citizen_id": "001190023456", "channel": "truc_tiep",
            "documents_complete": True, "appointment_date": "2026-03-09"}
MISSING = RECEIVED | {"documents_complete": False, "missing_documents": "Bản sao giấy tờ theo thành phần hồ sơ"}
SIGNED = {"leader_decision": "sign", "signer_full_name": "Lê Văn Tâm", "result_number": "12/QĐ-UBND"}
SENT_BACK = {"leader_decision": "return", "leader_note": "Kiểm tra lại điều kiện"}
RETURNED = {"returned_on": "2026-03-09", "receiver_full_name": "Trần Thị Mai", "satisfaction": "hai_long"}
REFUSED = {"refusal_reason": "Không đủ điều kiện theo quy định", "notified_on": "2026-03-06"}
APPROVE, REFUSE = {"appraisal_result": "approve"}, {"appraisal_result": "refuse", "appraisal_note": "Không đủ điều kiện"}
SUPPLEMENT = {"appraisal_result": "supplement", "appraisal_note": "Thiếu giấy tờ"}
SUPPLIED = {"supplement_received": True, "supplemented_documents": "Bản sao"}
NOT_SUPPLIED = {"supplement_received": False, "supplement_note": "Không liên lạc được"}

# What each pattern does between an approving appraisal and the leader's signature.
MIDDLE = {
    "appraise_sign_return": [],
    "other_agency_opinion": [("Task_Consult", {"consulted_agency": "Sở Tài chính", "consultation_reply": "agree"}),
                             ("Task_Conclude", {"conclusion": "approve"})],
    "financial_obligation": [("Task_Obligation", {"outcome": "da_nop", "amount_paid_vnd": 1500000,
                                                  "receipt_numbers": "BL-01"}),
                             ("Task_Finalize", {"result_ready": True})],
    "site_inspection": [("Task_Inspect", {"inspected_on": "2026-03-05", "inspection_result": "meets"})],
}
REFUSAL = [("Task_NotifyRefusal", REFUSED)]


def paths(pattern: str) -> dict:
    """{case name: ([(task id, data), ...] in the order offered, the end event)} of a pattern."""
    if pattern == "on_the_spot":
        return {
            "signed after a second look": ([("Task_Receive", RECEIVED), ("Task_Resolve", {"resolve_result": "approve"}),
                                            ("Task_Sign", SENT_BACK), ("Task_Resolve", {"resolve_result": "approve"}),
                                            ("Task_Sign", SIGNED), ("Task_Return", RETURNED)], "End_Done"),
            "refused": ([("Task_Receive", RECEIVED), ("Task_Resolve", {"resolve_result": "refuse",
                                                                       "resolve_note": "Giấy tờ không hợp lệ"})]
                        + REFUSAL, "End_Refused"),
            "incomplete, not received": ([("Task_Receive", MISSING)], "End_Guided"),
        }
    middle = MIDDLE[pattern]
    cases = {
        "result handed over": ([("Task_Receive", RECEIVED), ("Task_Appraise", APPROVE), *middle,
                                ("Task_Sign", SIGNED), ("Task_Return", RETURNED)], "End_Done"),
        "supplemented, then refused": ([("Task_Receive", MISSING), ("Task_Supplement", SUPPLIED),
                                        ("Task_Receive", RECEIVED), ("Task_Appraise", SUPPLEMENT),
                                        ("Task_Supplement", NOT_SUPPLIED)] + REFUSAL, "End_Refused"),
        "sent back by the leader, then refused": ([("Task_Receive", RECEIVED), ("Task_Appraise", APPROVE), *middle,
                                                   ("Task_Sign", SENT_BACK), ("Task_Appraise", REFUSE)] + REFUSAL,
                                                  "End_Refused"),
    }
    if pattern == "other_agency_opinion":
        cases["the other agency disagrees"] = ([("Task_Receive", RECEIVED), ("Task_Appraise", APPROVE),
                                                ("Task_Consult", {"consulted_agency": "Sở Xây dựng",
                                                                  "consultation_reply": "disagree"}),
                                                ("Task_Conclude", {"conclusion": "refuse"})] + REFUSAL, "End_Refused")
    if pattern == "site_inspection":
        inspect = "Task_Inspect"
        cases["remedies asked on site, then fails"] = (
            [("Task_Receive", RECEIVED), ("Task_Appraise", APPROVE),
             (inspect, {"inspected_on": "2026-03-05", "inspection_result": "supplement"}),
             ("Task_Supplement", SUPPLIED), ("Task_Receive", RECEIVED), ("Task_Appraise", APPROVE),
             (inspect, {"inspected_on": "2026-03-12", "inspection_result": "fails"})] + REFUSAL, "End_Refused")
    return cases


def test_file(pattern: str, start_event: str, start_data: dict, lanes: dict) -> dict:
    """The test file's cases: `lanes` is {task id: lane name} of the generated model."""
    out = {}
    for name, (steps, end) in paths(pattern).items():
        tasks: dict = {start_event: {"data": [start_data]}}
        for task_id, data in steps:
            entry = tasks.setdefault(task_id, {"data": []})
            entry["data"].append(data)
            if task_id in lanes:
                entry["lane"] = lanes[task_id]
        out[name] = {"tasks": tasks, "expected_end_event": end}
    return out
