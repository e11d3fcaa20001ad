import torch

from model.network.layers import Attention
from model.stats import count_flops, main


def test_flop_count_includes_the_attention_matrix_products():
    attention = Attention(16, 2)
    n = 256
    flops = count_flops(attention, (torch.randn(1, n, 16), torch.zeros(1, n)))
    linear = 2 * n * 16 * 48 + 2 * n * 16 * 16
    assert flops == linear + 2 * 2 * n * n * 16  # QK^T and AV, one multiply-add = 2 FLOPs


def test_stats_command_prints_rows_and_the_comparison(capsys):
    main(["--size", "64", "--only", "edc:small,dense_tristream:base", "--threads", "1"])
    text = capsys.readouterr().out
    assert "edc              small" in text and "dense_tristream  base" in text
    assert "EDC small vs dense tri-stream" in text
