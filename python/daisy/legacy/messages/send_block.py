from .message import Message


class SendBlock(Message):
    """Server → worker: the block to process."""

    def __init__(self, block):
        super().__init__()
        self.block = block


__all__ = ["SendBlock"]
