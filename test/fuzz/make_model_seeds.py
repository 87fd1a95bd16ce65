#!/usr/bin/env python3
"""Writes small recsys.model values in the binary form of format v2 (src/model.h):
valid models of every algorithm shape, and malformed directories, as seeds for the
model_recv and model_text fuzz targets.

    test/fuzz/make_model_seeds.py            write the seeds into test/fuzz/*-seeds
    test/fuzz/make_model_seeds.py --text N   print the text form of valid model N

The layout is built here independently of the C code (same rules: header, directory
in ascending tag order, each section on the next 8-byte boundary), so a seed that
the C reader rejects or re-encodes differently is a finding.
"""
import base64
import os
import struct
import sys

MAGIC = 0x4D535352
ALS, IALS, KNN, EASE = 1, 2, 3, 4
BIASES, INTERACTIONS, SEEN_VALUES, USER_NBR, ANN = 1, 2, 4, 8, 32

# tag: (name, element format)
TAGS = {
    1: ('options', 'B'), 2: ('user_ids', 'q'), 3: ('item_ids', 'q'),
    4: ('user_factors', 'f'), 5: ('item_factors', 'f'), 6: ('user_bias', 'f'),
    7: ('item_bias', 'f'), 8: ('item_count', 'i'), 9: ('seen_ptr', 'q'),
    10: ('seen_items', 'i'), 11: ('seen_values', 'f'), 12: ('item_nbr_ptr', 'q'),
    13: ('item_nbr_idx', 'i'), 14: ('item_nbr_weight', 'f'), 15: ('user_nbr_ptr', 'q'),
    16: ('user_nbr_idx', 'i'), 17: ('user_nbr_weight', 'f'), 25: ('ann_index', 'i'),
}
BY_NAME = {name: (tag, fmt) for tag, (name, fmt) in TAGS.items()}
HEADER = 112          # native, with the 4-byte varlena word
ENTRY = 24


def align8(x):
    return (x + 7) & ~7


def encode(h, sections, directory_edit=None, raw_dir=None):
    """The binary form (no varlena word).  h: header fields; sections: name -> list.
    directory_edit(entries) may alter the (tag, size, count, offset) entries after the
    layout is computed (to make malformed directories)."""
    present = sorted(BY_NAME[n][0] for n in sections)
    entries = []
    off = align8(HEADER + ENTRY * len(present))
    for tag in present:
        name, fmt = TAGS[tag]
        size = struct.calcsize('>' + fmt)
        count = len(sections[name])
        entries.append([tag, size, count, off])
        off = align8(off + size * count)
    total = off
    body = bytearray(total - 4)
    for tag, size, count, o in entries:
        name, fmt = TAGS[tag]
        struct.pack_into('>%d%s' % (count, fmt), body, o - 4, *sections[name])
    if directory_edit:
        directory_edit(entries)
    n_sections = h.get('n_sections', len(entries))
    hdr = struct.pack('>IHHIiiiiqq16sffffdqIIQ', MAGIC, h.get('version', 2), h['algorithm'],
                      h['flags'], h.get('factors', 0), h['n_users'], h['n_items'],
                      h.get('iterations', 1), h['n_interactions'], h.get('n_seen', 0),
                      bytes(range(16)), h.get('global_mean', 0.0), h.get('rating_min', 1.0),
                      h.get('rating_max', 1.0), 0.5, 0.001, 1000, len(sections['options']),
                      n_sections, h.get('reserved', 0))
    body[0:len(hdr)] = hdr
    d = raw_dir if raw_dir is not None else b''.join(
        struct.pack('>IIQQ', *e) for e in entries)
    body[len(hdr):len(hdr) + len(d)] = d
    return bytes(body)


def options(text):
    return list(text.encode()) + [0]


def history():
    """3 users, 4 items: user 0 saw items 0,1; user 1 saw 1,2,3; user 2 saw 0,3"""
    return dict(user_ids=[1, 2, 3], item_ids=[10, 20, 30, 40], item_count=[2, 2, 1, 2],
                seen_ptr=[0, 2, 5, 7], seen_items=[0, 1, 1, 2, 3, 0, 3],
                seen_values=[1.0, 2.0, 1.0, 1.0, 5.0, 3.0, 1.0])


def model(kind):
    """(header, sections) of a valid model of each shape"""
    s = history()
    h = dict(n_users=3, n_items=4, n_interactions=7, n_seen=7)
    if kind in ('als', 'ials'):
        k = 2
        h.update(algorithm=ALS if kind == 'als' else IALS, factors=k,
                 flags=INTERACTIONS | SEEN_VALUES | (BIASES if kind == 'als' else 0))
        s['user_factors'] = [0.1 * (i + 1) for i in range(3 * k)]
        s['item_factors'] = [-0.2 * (i + 1) for i in range(4 * k)]
        if kind == 'als':
            s['user_bias'] = [0.1, -0.1, 0.2]
            s['item_bias'] = [0.0, 0.3, -0.3, 0.1]
            h.update(global_mean=2.5, rating_max=5.0)
            s['options'] = options('{"factors": 2, "biases": true, "keep_interactions": true}')
        else:
            s['options'] = options('{"factors": 2, "alpha": 5}')
        return h, s
    nbr_ptr_items = [0, 2, 4, 5, 7]
    nbr_idx_items = [1, 3, 0, 2, 1, 0, 2]
    nbr_w_items = [0.5, 0.25, 0.5, 0.125, 0.75, 0.25, 0.5]
    if kind == 'knn_item':
        h.update(algorithm=KNN, flags=INTERACTIONS | SEEN_VALUES)
        s.update(options=options('{"kind": "item", "similarity": "cosine", "neighbours": 2}'),
                 item_nbr_ptr=nbr_ptr_items, item_nbr_idx=nbr_idx_items,
                 item_nbr_weight=nbr_w_items)
    elif kind == 'knn_user':
        h.update(algorithm=KNN, flags=INTERACTIONS | SEEN_VALUES | USER_NBR | BIASES,
                 global_mean=2.0, rating_max=5.0)
        s.update(options=options('{"kind": "user", "similarity": "pearson", "shrinkage": 100}'),
                 user_bias=[0.1, 0.0, -0.1], item_bias=[0.2, 0.0, 0.0, -0.2],
                 user_nbr_ptr=[0, 2, 3, 4], user_nbr_idx=[1, 2, 0, 1],
                 user_nbr_weight=[0.9, 0.1, 0.9, 0.4])
    elif kind == 'ease':
        h.update(algorithm=EASE, flags=INTERACTIONS | SEEN_VALUES)
        s.update(options=options('{"regularization": 250}'),
                 item_nbr_ptr=nbr_ptr_items, item_nbr_idx=nbr_idx_items,
                 item_nbr_weight=[-0.5, 0.25, 0.5, -0.125, 0.75, 0.25, -0.5])
    return h, s


def f2i(x):
    """a float4's bit pattern as the int32 word the index section stores"""
    return struct.unpack('>i', struct.pack('>f', x))[0]


def ann_index(h, s, vectors=True, assign=(0, 1, 0, 1)):
    """the ann_index words (src/model.h) of a two-list index over the 4 items"""
    k = h['factors']
    bias = 'item_bias' in s
    dim = k + (1 if bias else 0)
    n = h['n_items']
    lists = 2
    rows = [s['item_factors'][i * k:(i + 1) * k] + ([s['item_bias'][i]] if bias else [])
            for i in range(n)]
    items = [i for c in range(lists) for i in range(n) if assign[i] == c]
    ptr = [0]
    for c in range(lists):
        ptr.append(ptr[-1] + sum(1 for i in range(n) if assign[i] == c))
    cent = []
    for c in range(lists):
        members = [i for i in range(n) if assign[i] == c]
        cent += [sum(rows[i][t] for i in members) / len(members) for t in range(dim)]
    norm = max(sum(x * x for x in r) for r in rows) ** 0.5
    words = [0x31465649, lists, dim, 1, n, 10, 4, 42, f2i(norm), f2i(1.5),
             1 if vectors else 0, 0, 0, 0, 0, 0]
    words += [f2i(x) for x in cent] + ptr + items + list(assign)
    if vectors:
        words += [f2i(x) for p in items for x in rows[p]]
    return words


def model_ann(kind, vectors=True):
    """a factor model of model(kind) with an index"""
    h, s = model(kind)
    h['flags'] |= ANN
    s['ann_index'] = ann_index(h, s, vectors)
    return h, s


VALID = ['als', 'ials', 'knn_item', 'knn_user', 'ease']
VALID_ANN = ['als', 'ials']


def malformed():
    """(name, bytes) of models the reader must refuse"""
    out = []

    def with_dir(name, kind, edit):
        h, s = model(kind)
        out.append((name, encode(h, s, directory_edit=edit)))

    def overlap(e):
        e[3][3] -= 8
    with_dir('dir_overlapping_sections', 'knn_item', overlap)

    def out_of_range(e):
        e[-1][3] = 1 << 40
    with_dir('dir_offset_out_of_range', 'ease', out_of_range)

    def unaligned(e):
        e[2][3] += 4
    with_dir('dir_unaligned_offset', 'als', unaligned)

    def unknown(e):
        e[-1][0] = 99
    with_dir('dir_unknown_tag', 'knn_item', unknown)

    def reserved(e):
        e[-1][0] = 18
    with_dir('dir_reserved_tag', 'ease', reserved)

    def huge_count(e):
        for x in e:
            if x[0] == 13:
                x[2] = (1 << 62)
    with_dir('dir_huge_neighbour_count', 'knn_item', huge_count)

    def wrong_size(e):
        e[1][1] = 4
    with_dir('dir_wrong_element_size', 'ials', wrong_size)

    def swapped(e):
        e[1], e[2] = e[2], e[1]
    with_dir('dir_tags_out_of_order', 'als', swapped)

    # a section the algorithm does not allow: factors in an EASE model
    h, s = model('ease')
    s['user_factors'] = [0.0] * 3
    out.append(('dir_section_not_allowed', encode(h, s)))
    # a missing required section
    h, s = model('knn_item')
    del s['item_nbr_weight']
    out.append(('dir_missing_section', encode(h, s)))
    # neighbour list naming its own row, and an index out of range
    h, s = model('knn_item')
    s['item_nbr_idx'] = [0] + s['item_nbr_idx'][1:]
    out.append(('nbr_self', encode(h, s)))
    h, s = model('ease')
    s['item_nbr_idx'] = [9] + s['item_nbr_idx'][1:]
    out.append(('nbr_index_out_of_range', encode(h, s)))
    h, s = model('knn_user')
    s['user_nbr_ptr'] = [0, 2, 1, 4]
    out.append(('nbr_rows_not_monotone', encode(h, s)))
    h, s = model('ease')
    s['item_nbr_weight'] = [float('nan')] + s['item_nbr_weight'][1:]
    out.append(('nbr_weight_nan', encode(h, s)))
    h, s = model('knn_item')
    s['seen_values'] = [float('inf')] + s['seen_values'][1:]
    out.append(('seen_value_infinite', encode(h, s)))
    h, s = model('knn_item')
    h['n_sections'] = 40
    out.append(('too_many_sections', encode(h, s)))
    h, s = model('als')
    out.append(('truncated_directory', encode(h, s)[:200]))
    # approximate top-N index sections: a duplicate item, an item in the wrong
    # list, a bad kind, a vector that is not its row, a flag without the section
    h, s = model_ann('ials')
    s['ann_index'][16 + 2 * 2 + 3 + 1] = s['ann_index'][16 + 2 * 2 + 3]
    out.append(('ann_duplicate_item', encode(h, s)))
    h, s = model_ann('als')
    s['ann_index'][16 + 2 * 3 + 3 + 4] = 1
    out.append(('ann_wrong_list', encode(h, s)))
    h, s = model_ann('ials', vectors=False)
    s['ann_index'][0] = 7
    out.append(('ann_bad_kind', encode(h, s)))
    h, s = model_ann('als')
    s['ann_index'][-1] = f2i(9.0)
    out.append(('ann_vector_not_its_row', encode(h, s)))
    h, s = model_ann('ials')
    del s['ann_index']
    out.append(('ann_flag_without_section', encode(h, s)))
    h, s = model_ann('ials')
    s['ann_index'] = s['ann_index'][:20]
    out.append(('ann_truncated', encode(h, s)))
    return out


def main():
    if len(sys.argv) == 3 and sys.argv[1] == '--text':
        h, s = model(sys.argv[2])
        print('recsys-model:v2:' + base64.b64encode(encode(h, s)).decode())
        return
    here = os.path.dirname(os.path.abspath(__file__))
    recv = os.path.join(here, 'model_recv_fuzz-seeds')
    text = os.path.join(here, 'model_text_fuzz-seeds')
    for kind in VALID:
        h, s = model(kind)
        b = encode(h, s)
        with open(os.path.join(recv, 'v2_%s.bin' % kind), 'wb') as f:
            f.write(b)
        with open(os.path.join(text, 'v2_%s.txt' % kind), 'w') as f:
            f.write('recsys-model:v2:' + base64.b64encode(b).decode())
    for kind in VALID_ANN:
        for vectors in (True, False):
            h, s = model_ann(kind, vectors)
            b = encode(h, s)
            name = 'v2_%s_ann%s' % (kind, '' if vectors else '_gather')
            with open(os.path.join(recv, name + '.bin'), 'wb') as f:
                f.write(b)
            with open(os.path.join(text, name + '.txt'), 'w') as f:
                f.write('recsys-model:v2:' + base64.b64encode(b).decode())
    for name, b in malformed():
        with open(os.path.join(recv, 'v2_%s.bin' % name), 'wb') as f:
            f.write(b)


if __name__ == '__main__':
    main()
