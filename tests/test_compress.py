"""Deep Compression's parts: pruning, k-means weight sharing, relative indices, Huffman coding
and the compressed file format (Han, Mao & Dally, ICLR 2016)."""

import contextlib

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from cnnzoo.compress import huffman
from cnnzoo.compress.fileformat import (MAGIC, CompressedFileError, is_compressed_file,
                                        read_compressed, write_compressed)
from cnnzoo.compress.prune import Pruner, parse_layer_spec, resolve_per_layer, sparsity_schedule
from cnnzoo.compress.quantize import WeightSharing, centroid_gradients, init_centroids, kmeans_1d
from cnnzoo.compress.sparse import from_relative, to_relative

# Deep Compression, Figure 3: a 4×4 weight matrix, its 2-bit cluster indices, the shared
# weights (centroids), the gradient, and the centroids after one fine-tuning step (lr = 1).
FIG3_WEIGHTS = [[2.09, -0.98, 1.48, 0.09],
                [0.05, -0.14, -1.08, 2.12],
                [-0.91, 1.92, 0.00, -1.03],
                [1.87, 0.00, 1.53, 1.49]]
FIG3_INDICES = [[3, 0, 2, 1],
                [1, 1, 0, 3],
                [0, 3, 1, 0],
                [3, 1, 2, 2]]
FIG3_CENTROIDS = [-1.00, 0.00, 1.50, 2.00]
FIG3_GRADIENT = [[-0.03, -0.01, 0.03, 0.02],
                 [-0.01, 0.01, -0.02, 0.12],
                 [-0.01, 0.02, 0.04, 0.01],
                 [-0.07, -0.02, 0.01, -0.02]]
FIG3_REDUCED = [-0.03, 0.04, 0.02, 0.04]  # per centroid, in the order of FIG3_CENTROIDS
FIG3_FINETUNED = [-0.97, -0.04, 1.48, 1.96]


# -- k-means weight sharing --------------------------------------------------------------
def test_linear_init_spaces_centroids_between_min_and_max():
    w = torch.tensor(FIG3_WEIGHTS).flatten()
    # min −1.08, max 2.12: four centroids 3.2/3 apart.
    expected = [-1.08, -1.08 + 3.2 / 3, -1.08 + 6.4 / 3, 2.12]
    assert torch.allclose(init_centroids(w, 4, "linear"), torch.tensor(expected), atol=1e-6)


def test_density_init_follows_the_cdf():
    w = torch.tensor(FIG3_WEIGHTS).flatten()
    # 16 sorted values; CDF levels 0, 1/3, 2/3, 1 fall on the 1st, 6th, 11th and 16th.
    assert torch.allclose(init_centroids(w, 4, "density"), torch.tensor([-1.08, 0.0, 1.49, 2.12]))


def test_random_init_picks_distinct_weights():
    w = torch.tensor(FIG3_WEIGHTS).flatten()
    c = init_centroids(w, 4, "random", seed=3)
    assert len(set(c.tolist())) == 4 and all(v in w.tolist() for v in c.tolist())
    with pytest.raises(ValueError, match="linear, random, density"):
        init_centroids(w, 4, "kmeans++")


def test_kmeans_linear_init_reproduces_figure_3():
    centroids, labels = kmeans_1d(torch.tensor(FIG3_WEIGHTS).flatten(), 4, init="linear")
    assert torch.allclose(centroids, torch.tensor(FIG3_CENTROIDS), atol=1e-6)
    assert labels.view(4, 4).tolist() == FIG3_INDICES


def test_centroid_gradient_is_the_sum_of_its_weights_gradients():
    grads = centroid_gradients(torch.tensor(FIG3_GRADIENT).flatten(), torch.tensor(FIG3_INDICES).flatten(), 4)
    assert torch.allclose(grads, torch.tensor(FIG3_REDUCED), atol=1e-6)


def test_weight_sharing_fine_tuning_step_of_figure_3():
    layer = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(FIG3_WEIGHTS))
    sharing = WeightSharing({"fc": layer}, {"fc": torch.ones(4, 4, dtype=torch.bool)}, {"fc": 2})
    indices = torch.tensor(FIG3_INDICES)
    assert torch.allclose(layer.weight, torch.tensor(FIG3_CENTROIDS)[indices], atol=1e-6)
    optimizer = torch.optim.SGD(sharing.parameters(), lr=1.0)
    (layer.weight * torch.tensor(FIG3_GRADIENT)).sum().backward()  # ∂loss/∂W is Figure 3's gradient
    assert torch.allclose(sharing.codebooks["fc"].grad, torch.tensor(FIG3_REDUCED), atol=1e-6)
    optimizer.step()
    assert torch.allclose(sharing.codebooks["fc"], torch.tensor(FIG3_FINETUNED), atol=1e-6)
    assert torch.allclose(layer.weight, torch.tensor(FIG3_FINETUNED)[indices], atol=1e-6)
    sharing.remove()
    assert isinstance(layer.weight, nn.Parameter) and layer.weight.shape == (4, 4)
    assert torch.allclose(layer.weight, torch.tensor(FIG3_FINETUNED)[indices], atol=1e-6)
    exported = sharing.export()["fc"]
    assert np.allclose(exported.codebook, FIG3_FINETUNED, atol=1e-6)
    assert torch.equal(torch.from_numpy(exported.dense()), layer.weight.detach())


def test_weight_sharing_keeps_pruned_weights_zero_and_drops_empty_clusters():
    layer = nn.Linear(4, 4, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(FIG3_WEIGHTS))
    mask = torch.tensor(FIG3_WEIGHTS).abs() > 1.0  # nine weights survive
    sharing = WeightSharing({"fc": layer}, {"fc": mask}, {"fc": 5})
    assert (layer.weight[~mask] == 0).all()
    # 32 linearly spaced centroids, at most nine of them with members: no empty cluster is kept
    k = len(sharing.codebooks["fc"])
    assert k <= 9 and set(sharing.labels["fc"].tolist()) == set(range(k))


# -- pruning -----------------------------------------------------------------------------
def test_quality_threshold_is_a_multiple_of_the_std():
    layer = nn.Linear(5, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[-2.0, -1.0, 0.0, 1.0, 2.0]]))
    pruner = Pruner(nn.Sequential(layer))
    # sample std of (−2, −1, 0, 1, 2) is √(10/4) ≈ 1.58: quality 1 keeps only ±2.
    pruner.prune_below("0", 1.0)
    assert pruner.masks["0"].tolist() == [[True, False, False, False, True]]
    pruner.prune_below("0", 0.5)  # a lower threshold never revives a pruned weight
    assert pruner.masks["0"].tolist() == [[True, False, False, False, True]]


def test_target_sparsity_prunes_the_smallest_magnitudes():
    layer = nn.Linear(10, 1, bias=False)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([[0.5, -3.0, 0.1, 2.0, -0.2, 9.0, -0.7, 0.3, 4.0, -1.0]]))
    pruner = Pruner(nn.Sequential(layer))
    pruner.prune_to_sparsity("0", 0.6)  # the six smallest magnitudes: 0.1 0.2 0.3 0.5 0.7 1.0
    assert pruner.masks["0"].tolist() == [[False, True, False, True, False, True, False, False, True, False]]
    pruner.apply()
    assert (layer.weight == 0).sum() == 6


def test_sparsity_schedule_prunes_a_constant_fraction_of_survivors():
    # three rounds to 87.5% sparsity: keep 1/2, 1/4, 1/8.
    assert [sparsity_schedule(0.875, i, 3) for i in (1, 2, 3)] == pytest.approx([0.5, 0.75, 0.875])


def _toy_loader(n=64):
    from cnnzoo.data import ImageDataset, Loader

    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (n, 1, 8, 8), dtype=torch.uint8, generator=g)
    labels = torch.arange(n) % 4
    ds = ImageDataset(images=images, labels=labels, classes=list("abcd"), name="toy")
    return Loader(ds, batch_size=16, input_size=(1, 8, 8), train=True)


class _Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3)
        self.fc = nn.Linear(4 * 6 * 6, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.conv(x)).flatten(1))


@pytest.mark.parametrize("masks", ["gradients", "gradients and after each step", "none"])
def test_retraining_keeps_pruned_weights_at_zero(masks):
    from cnnzoo.train.loop import fit

    model, loader = _Toy(), _toy_loader()
    pruner = Pruner(model)
    for name in pruner.layers:
        pruner.prune_to_sparsity(name, 0.7)
    pruner.apply()
    before = {n: m.weight.detach().clone() for n, m in pruner.layers.items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=0.01)
    hook = (lambda _: pruner.apply()) if masks == "gradients and after each step" else None
    with pruner.masked_gradients() if masks != "none" else contextlib.nullcontext():
        fit(model, loader, epochs=2, optimizer=optimizer, mask_hook=hook)
    for name, m in pruner.layers.items():
        mask = pruner.masks[name]
        assert not torch.equal(m.weight[mask], before[name][mask])  # the survivors did train
        if masks != "none":
            assert (m.weight[~mask] == 0).all()
        else:  # without the masks, gradients, momentum and decay revive the pruned weights
            assert (m.weight[~mask] != 0).any()


# -- per-layer settings ------------------------------------------------------------------
def test_layer_spec_parsing_and_precedence():
    layers = dict(nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(8, 4), nn.Linear(4, 2)).named_children())
    layers = {k: v for k, v in layers.items() if k != "1"}
    assert parse_layer_spec("conv=8,fc=5", int) == {"conv": 8, "fc": 5}
    assert parse_layer_spec("0.9") == 0.9
    assert resolve_per_layer(parse_layer_spec("conv=8,fc=5", int), layers, None, "bits") == {"0": 8, "2": 5, "3": 5}
    assert resolve_per_layer({"fc": 5, "3": 6}, layers, {"conv": 8, "fc": 5}, "bits") == {"0": 8, "2": 5, "3": 6}
    assert resolve_per_layer(None, layers, (0.3, 0.9, 0.7), "sparsity") == {"0": 0.3, "2": 0.9, "3": 0.7}
    with pytest.raises(ValueError, match="names no compressible layer"):
        resolve_per_layer({"fc9": 1}, layers, 0, "bits")
    with pytest.raises(ValueError, match="key=value"):
        parse_layer_spec("conv=eight", int)


# -- relative indices --------------------------------------------------------------------
def test_gap_overflow_inserts_filler_zeros():
    # 2-bit gaps hold 0..3 skipped zeros. Non-zeros at 0, 9, 10, 20:
    #   0: gap 0;  9: 8 zeros skipped → fillers at 4 and 8 (gap 3 each), then gap 0;
    #  10: gap 0; 20: 9 zeros skipped → fillers at 14 and 18, then gap 1.
    gaps, filler = to_relative([0, 9, 10, 20], 2)
    assert gaps.tolist() == [0, 3, 3, 0, 0, 3, 3, 1]
    assert filler.tolist() == [False, True, True, False, False, True, True, False]
    assert from_relative(gaps).tolist() == [0, 4, 8, 9, 10, 14, 18, 20]


def test_gap_that_fits_needs_no_filler():
    gaps, filler = to_relative([3, 7], 2)  # 3 and 3 zeros skipped: the largest 2-bit gap
    assert gaps.tolist() == [3, 3] and not filler.any()


@settings(max_examples=50, deadline=None)
@given(st.sets(st.integers(0, 5000), max_size=200), st.integers(1, 8))
def test_relative_indices_round_trip(positions, gap_bits):
    positions = sorted(positions)
    gaps, filler = to_relative(positions, gap_bits)
    assert (gaps < 2 ** gap_bits).all()
    assert from_relative(gaps)[~filler].tolist() == positions


# -- Huffman coding ----------------------------------------------------------------------
def _is_prefix_free(lengths) -> bool:
    codes = huffman.canonical_codes(lengths)
    words = [format(int(c), f"0{int(n)}b") for c, n in zip(codes, lengths) if n]
    return not any(a != b and b.startswith(a) for a in words for b in words) and len(set(words)) == len(words)


def test_huffman_code_lengths_of_the_textbook_example():
    # Cormen et al., Introduction to Algorithms, Figure 16.3/16.4: frequencies (thousands)
    # a:45 b:13 c:12 d:16 e:9 f:5 get codes of 1, 3, 3, 3, 4, 4 bits, 224,000 bits in all.
    counts = [45, 13, 12, 16, 9, 5]
    lengths = huffman.code_lengths(counts)
    assert lengths.tolist() == [1, 3, 3, 3, 4, 4]
    assert int(np.dot(lengths, counts)) == 224


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 1000), min_size=1, max_size=300))
def test_huffman_code_is_prefix_free(counts):
    lengths = huffman.code_lengths(counts)
    assert (lengths[np.asarray(counts) > 0] > 0).all() and (lengths[np.asarray(counts) == 0] == 0).all()
    assert lengths.max(initial=0) <= huffman.MAX_CODE_LENGTH
    assert _is_prefix_free(lengths)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 40), min_size=0, max_size=2000), st.integers(41, 300))
def test_huffman_round_trip(stream, alphabet):
    symbols = np.asarray(stream, dtype=np.int64)
    lengths = huffman.code_lengths(np.bincount(symbols, minlength=alphabet))
    data, nbits = huffman.encode(symbols, lengths)
    assert len(data) == (nbits + 7) // 8
    assert huffman.decode(data, nbits, len(symbols), lengths).tolist() == stream


def test_huffman_lengths_are_capped_for_skewed_counts():
    fib = [1, 1]
    while len(fib) < 40:
        fib.append(fib[-1] + fib[-2])  # Fibonacci counts make a Huffman tree 39 levels deep
    lengths = huffman.code_lengths(fib)
    assert lengths.max() == huffman.MAX_CODE_LENGTH and _is_prefix_free(lengths)
    symbols = np.repeat(np.arange(40), 3)
    data, nbits = huffman.encode(symbols, lengths)
    assert (huffman.decode(data, nbits, len(symbols), lengths) == symbols).all()


def test_huffman_decode_rejects_a_damaged_stream():
    lengths = huffman.code_lengths([5, 3, 1])
    data, nbits = huffman.encode([0, 1, 2, 0], lengths)
    with pytest.raises(huffman.HuffmanError):
        huffman.decode(data, nbits - 1, 4, lengths)
    with pytest.raises(huffman.HuffmanError):
        huffman.decode(data, nbits, 5, lengths)


# -- the file format ---------------------------------------------------------------------
def _shared_state(seed=0):
    """A small state_dict with two pruned, quantized layers and raw tensors of several dtypes."""
    g = torch.Generator().manual_seed(seed)
    conv = torch.randn(6, 1, 5, 5, generator=g)
    fc = torch.randn(40, 96, generator=g)
    state, dense = {}, {}
    for name, w, bits, sparsity in (("conv.weight", conv, 8, 0.3), ("fc.weight", fc, 5, 0.95)):
        layer = nn.Linear(1, 1, bias=False)
        layer.weight = nn.Parameter(w.clone())
        pruner = Pruner(nn.Sequential(layer))
        pruner.prune_to_sparsity("0", sparsity)
        pruner.apply()
        sharing = WeightSharing({"0": layer}, pruner.masks, {"0": bits})
        state[name] = sharing.export()["0"]
        dense[name] = layer.weight.detach().clone()
    state["conv.bias"] = dense["conv.bias"] = torch.randn(6, generator=g)
    state["bn.num_batches_tracked"] = dense["bn.num_batches_tracked"] = torch.tensor(7)
    state["fc.bias"] = dense["fc.bias"] = torch.randn(40, generator=g)
    return state, dense


HEADER = {"model": "toy", "model_options": {}, "num_classes": 40, "in_chans": 1,
          "input_size": [1, 28, 28], "dataset": "toy", "classes": None}
GAP_BITS = {"conv.weight": 8, "fc.weight": 5}


def test_file_round_trip_is_bit_identical(tmp_path):
    state, dense = _shared_state()
    path = tmp_path / "toy.cnnzc"
    stats = write_compressed(path, HEADER, state, gap_bits=GAP_BITS)
    assert is_compressed_file(path) and path.read_bytes()[:8] == MAGIC
    header, loaded = read_compressed(path)
    assert header["model"] == "toy" and list(loaded) == list(dense)
    for name, tensor in dense.items():
        assert loaded[name].dtype == tensor.dtype
        assert torch.equal(loaded[name], tensor), name  # bit-identical, zeros included
    fc = {s.name: s for s in stats}["fc.weight"]
    assert fc.entries > (dense["fc.weight"] != 0).sum()  # 5% density overflows 5-bit gaps
    assert fc.fillers == fc.entries - int((dense["fc.weight"] != 0).sum())
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file was renamed into place


def test_float16_storage_rounds_codebooks_and_raw_tensors(tmp_path):
    state, dense = _shared_state()
    write_compressed(tmp_path / "half.cnnzc", HEADER, state, gap_bits=GAP_BITS, float16=True)
    _, loaded = read_compressed(tmp_path / "half.cnnzc")
    for name in ("conv.weight", "fc.weight", "conv.bias"):
        assert torch.equal(loaded[name].float(), dense[name].half().float())
    assert (tmp_path / "half.cnnzc").stat().st_size < len(_file(tmp_path, state))


def _file(tmp_path, state) -> bytes:
    write_compressed(tmp_path / "full.cnnzc", HEADER, state, gap_bits=GAP_BITS)
    return (tmp_path / "full.cnnzc").read_bytes()


def test_truncated_file_names_the_section(tmp_path):
    state, _ = _shared_state()
    data = _file(tmp_path, state)
    bad = tmp_path / "cut.cnnzc"
    bad.write_bytes(data[: len(data) - 100])  # cut inside the last section (fc.bias: 160 bytes)
    with pytest.raises(CompressedFileError, match=r"section 5 of 5 \('fc.bias'\).*truncated"):
        read_compressed(bad)
    bad.write_bytes(data[:20])
    with pytest.raises(CompressedFileError, match="header.*truncated"):
        read_compressed(bad)


def test_corrupted_section_fails_its_checksum(tmp_path):
    state, _ = _shared_state()
    data = bytearray(_file(tmp_path, state))
    stats = write_compressed(tmp_path / "full.cnnzc", HEADER, state, gap_bits=GAP_BITS)
    after = sum(s.bytes for s in stats[2:])  # the sections after fc.weight
    data[-after - 20] ^= 0x10  # a bit inside fc.weight's Huffman streams
    bad = tmp_path / "flip.cnnzc"
    bad.write_bytes(bytes(data))
    with pytest.raises(CompressedFileError, match=r"'fc.weight'.*corrupted \(CRC-32"):
        read_compressed(bad)


def test_not_a_compressed_file(tmp_path):
    other = tmp_path / "weights.safetensors"
    other.write_bytes(b"{}" * 10)
    assert not is_compressed_file(other) and not is_compressed_file(tmp_path)
    with pytest.raises(CompressedFileError, match="not a cnnzoo compressed model"):
        read_compressed(other)
    state, _ = _shared_state()
    data = _file(tmp_path, state)
    other.write_bytes(data + b"extra")
    with pytest.raises(CompressedFileError, match="5 unexpected bytes after the last section"):
        read_compressed(other)
    other.write_bytes(data[:8] + b"\x63\x00" + data[10:])
    with pytest.raises(CompressedFileError, match="version 99"):
        read_compressed(other)


@pytest.mark.parametrize("clusters, expected", [(3, (100 * (2 + 5) + 7) // 8 + 4 * 3),
                                                (4, (100 * (3 + 5) + 7) // 8 + 4 * 4)])
def test_quantized_size_gives_fillers_a_symbol(clusters, expected):
    # Deep Compression's P+Q size (Han et al. 2016, Tables 2-5): b-bit cluster indices and g-bit
    # relative indices per stored entry, plus the codebook in float32. Fillers (Fig. 2) need a
    # symbol of their own: with all 2^b clusters in use (4 of b = 2) a fixed width takes b + 1.
    from cnnzoo.compress.fileformat import SectionStats
    from cnnzoo.compress.report import layer_rows

    layer = nn.Linear(40, 10)
    stats = SectionStats("fc.weight", "shared", 0, entries=100, fillers=3, clusters=clusters, gap_width=5)
    (row,) = layer_rows({"fc": layer}, {"fc.weight": stats}, {"fc": 2}, {"fc": torch.ones(10, 40, dtype=torch.bool)})
    assert row["bytes"]["quantized"] == expected
