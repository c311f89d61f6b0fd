"""Declined or failed payments are not fraud (issue 14).

"刷卡总是提示交易失败" is a cardholder whose payment did not go through: the KB explains why and
what to do. Only signs that someone else used the card (盗刷, a charge the cardholder did not
make, a card in the pocket yet charged) make it a case for the disputes desk with priority. The
NLU separates most of these; this check catches a decline that still reached fraud_dispute.
"""

from __future__ import annotations

import re

# A payment that did not go through.
_DECLINED = re.compile(
    r"交易失败|支付失败|付款失败|扣款失败|消费失败|刷卡失败|绑卡失败|交易不成功|支付不成功|付款不成功"
    r"|没成功|不成功|失败"
    r"|刷不了|刷不出|刷不过|付不了|付不出|支付不了|用不了|不能用|不能刷|不能支付|无法支付|无法交易"
    r"|无法使用|被拒|拒绝交易|交易被拒|拒付|不予承兑|请联系发卡行|联系发卡行|余额不足|额度不足|资金不足"
    r"|交易受限|受限|超限|被拦截|拦截|风控|错误码|应答码|返回码|代码\d+"
)
# Someone else used the card, or the cardholder does not recognise a charge.
_UNAUTHORISED = re.compile(
    r"盗刷|盗用|冒用|被刷|被人刷|别人刷|有人刷|有人用|别人用|不是我|不是本人|非本人|不是我本人"
    r"|没有?消费|没刷|没有刷|没买|没有买|没有?操作|不认识|陌生|不认|莫名|不知情|没印象|不记得"
    r"|被骗|诈骗|卡在身上|卡一直在|卡在我身上|卡在我手上|重复扣|扣了两次|多扣|异常扣款"
)


def is_declined_payment(text: str) -> bool:
    """True for a failed or declined payment with no sign that someone else used the card."""
    return bool(_DECLINED.search(text)) and not _UNAUTHORISED.search(text)
