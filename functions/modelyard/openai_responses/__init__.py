"""OpenAI's Responses API as a door onto the chat pipeline.

`bridge` turns a Responses request (with the conversation a `previous_response_id` names)
into a chat completions body for `Gateway.chat`, and the chat answer back into a response
object; `events` re-frames the gateway's chat stream as the Responses event sequence. So
routing, fallback, budgets, the cache and accounting are the chat path's own.
"""
