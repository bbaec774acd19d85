"""The shipped Chinese templates of the hand-off and reporter notices.

A store overrides one by putting ``templates/<name>.txt`` beside its rules
(reviewed in pull requests like them). A template's first line is the
subject, the rest (after a blank line) the body; ``$name`` / ``${name}``
are replaced (`string.Template`: no attribute access, nothing evaluated),
an unknown ``$name`` is left as written. The values (`notice_values`):

    $id $title $priority $status $tier $handler $actor $at $opened
    $reason $solution $process $ref $due $system $reporter $department
    $command $satisfaction_help

A group chat (robot, webhook, command) gets the same template filled with
group-safe values: no reporter, department or phone number, and for an
information-security incident a fixed text instead of the template.
"""

from __future__ import annotations

TEMPLATES: dict[str, str] = {
    "registered": """\
[$id] 您报告的事件已登记：$title

$reporter 您好：

您报告的事件已由服务台登记。
事件编号：$id
标题：$title
优先级：$priority
登记时间：$opened

我们会尽快处理。回复本邮件即可补充情况（请保留主题中的事件编号）。

服务台
""",
    "assigned": """\
[$id] 派单 $priority：$title

$handler，您好：

$actor 于 $at 将事件 $id 指派给您（$tier）。
标题：$title
优先级：$priority
系统：$system
报告人：$reporter $department
登记时间：$opened

请第一时间与用户联系。查看：$command
""",
    "escalated": """\
[$id] 事件升级到$tier $priority：$title

$handler，您好：

$actor 于 $at 将事件 $id 升级到$tier。
原因：$reason
回复期限：$due
标题：$title
优先级：$priority
系统：$system
报告人：$reporter $department

查看：$command
""",
    "reopened": """\
[$id] 事件重新打开 $priority：$title

$handler，您好：

$actor 于 $at 重新打开了事件 $id。
原因：$reason
标题：$title
优先级：$priority

查看：$command
""",
    "transferred": """\
[$id] 请项目经理决定 $priority：$title

$handler，您好：

客户坚持要求服务范围外的处理，$actor 于 $at 将事件 $id 转交项目经理。
原因：$reason
标题：$title
优先级：$priority

请受理（elinkctl accept $id）或退回（elinkctl reject $id --reason …）。查看：$command
""",
    "rejected": """\
[$id] 您报告的事件已退回：$title

$reporter 您好：

您报告的事件 $id「$title」不在服务协议范围内，已退回。
原因：$reason

如有疑问，请回复本邮件（请保留主题中的事件编号）。

服务台
""",
    "redirected": """\
[$id] 您的申请已转入$process流程：$title

$reporter 您好：

您报告的事件 $id「$title」属于$process，已转入$process流程处理。
编号：$ref
说明：$reason

如有疑问，请回复本邮件（请保留主题中的事件编号）。

服务台
""",
    "resolved": """\
[$id] 请确认事件是否已解决：$title

$reporter 您好：

您报告的事件 $id「$title」已处理完毕。
处理结果：$solution

如问题已解决，请直接回复“已解决”或“确认”；如仍有问题，请回复说明情况，我们会继续处理。

服务台
""",
    "resolved_major": """\
[$id] 重大事件已解决 $priority：$title

$handler，您好：

重大事件 $id「$title」已于 $at 由 $actor 解决。
处理结果：$solution
登记时间：$opened

项目经理复核后出具《重大事件处理分析报告》（elinkctl review / report major）。查看：$command
""",
    "closed": """\
[$id] 事件已关闭，请评价本次服务：$title

$reporter 您好：

您报告的事件 $id「$title」已关闭。感谢您的配合！

请直接回复 1–5 的数字为本次服务打分（5 = 非常满意，1 = 非常不满意），或回复“满意”“一般”“不满意”。

服务台
""",
}

SECURITY_GROUP = """\
[$id] $notice $priority

事件 $id（$priority）有新的通知：$notice。
详情不在群内发送，请用下面的命令查看。

查看：$command
"""
"""What a group chat reads of an information-security incident, whatever the template."""

LABELS: dict[str, str] = {
    "registered": "事件登记",
    "assigned": "派单",
    "escalated": "事件升级",
    "reopened": "重新打开",
    "transferred": "转项目经理",
    "rejected": "退回",
    "redirected": "转其他流程",
    "resolved": "请确认解决",
    "resolved_major": "重大事件已解决",
    "closed": "满意度回访",
}
"""The notice names in Chinese (a security incident's group text, notes)."""
