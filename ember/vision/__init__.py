"""torchvision subset"""
