"""The channels a message can go out on: SMTP e-mail and the WeCom, DingTalk and Feishu group robots."""
