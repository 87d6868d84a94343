from .message import Message


class ReleaseBlock(Message):
    """Worker → server: the block is done; its ``status`` is SUCCESS or FAILED."""

    def __init__(self, block):
        super().__init__()
        self.block = block


__all__ = ["ReleaseBlock"]
