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
ALS, IALS, KNN, EASE, CONTENT, HYBRID, TEXT = 1, 2, 3, 4, 5, 6, 7
BIASES, INTERACTIONS, SEEN_VALUES, USER_NBR, EXPLICIT, ANN = 1, 2, 4, 8, 16, 32

# tag: (name, element format)
TAGS = {
    1: ('options', 'B'), 2: ('user_ids', 'q'), 3: ('item_ids', 'q'),
    4: ('user_factors', 'f'), 5: ('item_factors', 'f'), 6: ('user_bias', 'f'),
    7: ('item_bias', 'f'), 8: ('item_count', 'i'), 9: ('seen_ptr', 'q'),
    10: ('seen_items', 'i'), 11: ('seen_values', 'f'), 12: ('item_nbr_ptr', 'q'),
    13: ('item_nbr_idx', 'i'), 14: ('item_nbr_weight', 'f'), 15: ('user_nbr_ptr', 'q'),
    16: ('user_nbr_idx', 'i'), 17: ('user_nbr_weight', 'f'),
    # text content (TF-IDF): item rows, vocabulary, idf, the same entries by term
    19: ('feature_ptr', 'q'), 20: ('feature_idx', 'i'), 21: ('feature_values', 'f'),
    22: ('vocabulary', 'B'), 23: ('idf', 'f'), 25: ('ann_index', 'i'),
    26: ('term_ptr', 'q'), 27: ('term_items', 'i'), 28: ('term_values', 'f'),
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
    elif kind == 'content':
        # unit item vectors (item 30 has no features: a zero row), unit profiles
        k = 2
        y = [[0.6, 0.8], [1.0, 0.0], [0.0, 0.0], [0.0, -1.0]]
        x = []
        for u in range(3):
            p = [0.0, 0.0]
            for e in range(s['seen_ptr'][u], s['seen_ptr'][u + 1]):
                for d in range(k):
                    p[d] += s['seen_values'][e] * y[s['seen_items'][e]][d]
            norm = sum(c * c for c in p) ** 0.5
            x.append([c / norm if norm > 0 else 0.0 for c in p])
        h.update(algorithm=CONTENT, factors=k, flags=INTERACTIONS | SEEN_VALUES)
        s.update(options=options('{"center": false}'),
                 user_factors=[c for r in x for c in r], item_factors=[c for r in y for c in r])
    elif kind in ('hybrid', 'hybrid_explicit'):
        # ALS factors; explicit ones keep no biases (the flag adds no section)
        k = 2
        h.update(algorithm=HYBRID, factors=k, flags=INTERACTIONS | SEEN_VALUES |
                 (EXPLICIT if kind == 'hybrid_explicit' else 0))
        if kind == 'hybrid_explicit':
            h.update(rating_max=5.0)
        s.update(options=options('{"factors": 2, "explicit": %s, "cold_threshold": 3}'
                                 % ('true' if kind == 'hybrid_explicit' else 'false')),
                 user_factors=[0.5, -0.25, 0.125, 1.0, -1.5, 0.75],
                 item_factors=[0.25, 0.5, -0.5, 1.0, 2.0, -0.125, 0.0, 0.375])
    elif kind == 'content_text':
        # terms apple, banana, cherry; unit TF-IDF rows, item 40 without text
        h.update(algorithm=TEXT, flags=INTERACTIONS | SEEN_VALUES)
        s.update(options=options('{"min_df": 1, "sublinear_tf": true}'), **text_sections())
    return h, s


def text_sections():
    """The sections of a valid text content model over history()'s 4 items"""
    rows = [[(0, 0.6), (1, 0.8)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []]
    vocab = [b'apple', b'banana', b'cherry']
    return text_layout(rows, vocab, [1.25, 1.125, 1.5])


def text_layout(rows, vocab, idf):
    """Item rows [(term, weight)], lexemes and idf as the eight text sections,
    the inverted index transposed from the rows"""
    fptr, fidx, fval = [0], [], []
    for r in rows:
        fidx += [t for t, _ in r]
        fval += [w for _, w in r]
        fptr.append(len(fidx))
    tptr, titems, tval = [0], [], []
    for t in range(len(vocab)):
        for i, r in enumerate(rows):
            for tt, w in r:
                if tt == t:
                    titems.append(i)
                    tval.append(w)
        tptr.append(len(titems))
    return dict(feature_ptr=fptr, feature_idx=fidx, feature_values=fval,
                vocabulary=list(b''.join(v + b'\0' for v in vocab)), idf=idf,
                term_ptr=tptr, term_items=titems, term_values=tval)


VALID = ['als', 'ials', 'knn_item', 'knn_user', 'ease', 'content', 'hybrid', 'hybrid_explicit',
         'content_text']


def edge_valid():
    """(name, bytes) of valid models at the edges serving must cope with"""
    out = []
    # the largest seen values: a profile summed from them must not overflow
    # (and, centred on their mean, beyond the float range), over items sharing terms
    h, s = model('content_text')
    s.update(text_layout([[(0, 0.6), (1, 0.8)], [(0, 1.0)], [(0, 0.8), (1, 0.6)], [(1, 1.0)]],
                         [b'apple', b'banana'], [1.0, 1.0]))
    s['seen_values'] = [3.4e38, 3.4e38, 3.4e38, -3.4e38, -3.4e38, 3.4e38, 3.4e38]
    out.append(('content_text_extreme_seen_values', encode(h, s)))
    h, s = model('content')
    s['seen_values'] = [3.4e38, 3.4e38, 3.4e38, -3.4e38, -3.4e38, 3.4e38, 3.4e38]
    out.append(('content_extreme_seen_values', encode(h, s)))
    # a user whose items have no features (a zero profile)
    h, s = model('content')
    s['seen_ptr'] = [0, 2, 3, 5]
    s['seen_items'] = [0, 1, 2, 0, 3]
    s['seen_values'] = [1.0, 2.0, 1.0, 3.0, 1.0]
    s['item_count'] = [2, 1, 1, 1]
    h.update(n_interactions=5, n_seen=5)
    s['user_factors'][2:4] = [0.0, 0.0]
    out.append(('content_zero_profile', encode(h, s)))
    # centred weights that cancel to rounding over items of one term (a fuzz finding)
    h, s = model('content_text')
    s.update(text_layout([[(0, 1.0)]] * 4, [b'x'], [1.0]))
    s['seen_values'][2:5] = [1.0000153, 5.7e-41, 0.5]
    out.append(('content_text_cancelling_profile', encode(h, s)))
    # a vocabulary of one term that every item holds, one with a long lexeme
    h, s = model('content_text')
    s.update(text_layout([[(0, 1.0)]] * 4, [b'x' * 300], [1.0]))
    out.append(('content_text_one_term', encode(h, s)))
    return out


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
    if kind == 'als':
        # trained with the index option: an object of scalars in the options
        s['options'] = options('{"factors": 2, "biases": true, "keep_interactions": true, '
                               '"index": {"lists": 2, "probes": 1, "store_vectors": %s}}'
                               % ('true' if vectors else 'false'))
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
    out += malformed_content()
    return out


def malformed_content():
    """(name, bytes) of content, hybrid and text content models the reader must refuse"""
    out = []

    def text(name, rows=None, vocab=None, idf=None, edit=None, directory_edit=None):
        h, s = model('content_text')
        if rows is not None or vocab is not None or idf is not None:
            s.update(text_layout(rows if rows is not None else
                                 [[(0, 0.6), (1, 0.8)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []],
                                 vocab or [b'apple', b'banana', b'cherry'],
                                 idf or [1.25, 1.125, 1.5]))
        if edit:
            edit(h, s)
        out.append(('text_' + name, encode(h, s, directory_edit=directory_edit)))

    # the vocabulary: out of order, a duplicate, no final NUL, a count that disagrees
    text('vocabulary_unsorted', vocab=[b'banana', b'apple', b'cherry'])
    text('vocabulary_duplicate', vocab=[b'apple', b'apple', b'cherry'])
    text('vocabulary_empty_term', vocab=[b'', b'banana', b'cherry'])

    def no_nul(h, s):
        s['vocabulary'] = s['vocabulary'][:-1] + [ord('x')]
    text('vocabulary_without_nul', edit=no_nul)

    def extra_term(h, s):
        s['vocabulary'] += list(b'date\0')
    text('vocabulary_more_terms_than_idf', edit=extra_term)

    def vocab_offset(e):
        for x in e:
            if x[0] == 22:
                x[3] = 1 << 33
    text('vocabulary_offset_out_of_range', directory_edit=vocab_offset)

    def vocab_count(e):
        for x in e:
            if x[0] == 22:
                x[2] += 4096
    text('vocabulary_count_past_the_end', directory_edit=vocab_count)

    # idf: NaN, infinite, zero, negative
    for name, bad in (('nan', float('nan')), ('infinite', float('inf')), ('zero', 0.0),
                      ('negative', -1.0)):
        text('idf_' + name, idf=[1.25, bad, 1.5])

    # weights: NaN, infinite, above 1, rows that are not unit vectors, negative
    text('weight_nan', rows=[[(0, float('nan')), (1, 0.8)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])
    text('weight_infinite', rows=[[(0, 0.6), (1, float('inf'))], [(1, 1.0)],
                                  [(0, 0.8), (2, 0.6)], []])
    text('weight_above_one', rows=[[(0, 0.6), (1, 0.8)], [(1, 1.5)], [(0, 0.8), (2, 0.6)], []])
    text('row_not_unit', rows=[[(0, 0.3), (1, 0.4)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])
    text('row_longer_than_unit', rows=[[(0, 0.9), (1, 0.9)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])
    text('weight_negative', rows=[[(0, -0.6), (1, 0.8)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])
    text('weight_zero', rows=[[(0, 0.0), (1, 1.0)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])

    # item rows: terms out of order, a duplicate, a term past the vocabulary
    text('row_terms_unsorted', rows=[[(1, 0.8), (0, 0.6)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])
    text('row_term_duplicate', rows=[[(0, 0.6), (0, 0.8)], [(1, 1.0)], [(0, 0.8), (2, 0.6)], []])

    def term_past_vocabulary(h, s):
        s['feature_idx'][0] = 3
    text('row_term_out_of_range', edit=term_past_vocabulary)

    def feature_ptr_back(h, s):
        s['feature_ptr'] = [0, 3, 2, 5, 5]
    text('rows_not_monotone', edit=feature_ptr_back)

    def feature_ptr_end(h, s):
        s['feature_ptr'][-1] = 4
    text('rows_end_short', edit=feature_ptr_end)

    # the inverted index: an item past the catalogue, not the transpose, out of order
    def posting_past_items(h, s):
        s['term_items'][1] = 4
    text('posting_past_the_items', edit=posting_past_items)

    def posting_negative(h, s):
        s['term_items'][0] = -1
    text('posting_negative', edit=posting_negative)

    def posting_huge(h, s):
        s['term_items'][4] = 0x7FFFFFFF
    text('posting_huge_item', edit=posting_huge)

    def postings_unsorted(h, s):
        s['term_items'][0], s['term_items'][1] = s['term_items'][1], s['term_items'][0]
        s['term_values'][0], s['term_values'][1] = s['term_values'][1], s['term_values'][0]
    text('postings_unsorted', edit=postings_unsorted)

    def posting_weight_differs(h, s):
        s['term_values'][3] = 0.5
    text('posting_weight_differs', edit=posting_weight_differs)

    def posting_moved(h, s):
        s['term_items'][4] = 3
    text('posting_for_another_item', edit=posting_moved)

    def term_ptr_back(h, s):
        s['term_ptr'] = [0, 3, 2, 5]
    text('term_rows_not_monotone', edit=term_ptr_back)

    def term_ptr_past(h, s):
        s['term_ptr'][-1] = 6
    text('term_rows_past_the_entries', edit=term_ptr_past)

    # counts that disagree: inverted index of another size, idf of another size
    def term_count(e):
        for x in e:
            if x[0] in (27, 28):
                x[2] -= 1
    text('term_entries_count_differs', directory_edit=term_count)

    def idf_count(e):
        for x in e:
            if x[0] == 23:
                x[2] = 1 << 60
    text('idf_count_huge', directory_edit=idf_count)

    def feature_count(e):
        for x in e:
            if x[0] == 20:
                x[2] = (1 << 62) + 5
    text('feature_count_huge', directory_edit=feature_count)

    # a missing section, a reserved tag in between, truncation in a section
    h, s = model('content_text')
    del s['term_values']
    out.append(('text_missing_term_values', encode(h, s)))
    h, s = model('content_text')
    del s['idf']
    out.append(('text_missing_idf', encode(h, s)))
    h, s = model('content_text')
    b = encode(h, s)
    out.append(('text_truncated_in_vocabulary', b[:300]))
    out.append(('text_truncated_by_8', b[:-8]))

    def reserved(e):
        for x in e:
            if x[0] == 23:
                x[0] = 24
    text('feature_map_tag', directory_edit=reserved)

    # flags and factors a text model cannot have
    def with_factors(h, s):
        h['factors'] = 2
    text('with_factors', edit=with_factors)

    def explicit(h, s):
        h['flags'] |= EXPLICIT
    text('explicit_flag', edit=explicit)

    def text_mean(h, s):
        h['global_mean'] = 1.0
    text('with_a_mean', edit=text_mean)

    # text sections in factor models
    for kind in ('content', 'hybrid'):
        h, s = model(kind)
        s.update(text_sections())
        out.append(('%s_with_text_sections' % kind, encode(h, s)))

    # dense content: rows that are not unit vectors, a NaN, the explicit flag
    h, s = model('content')
    s['item_factors'] = [0.3, 0.4] + s['item_factors'][2:]
    out.append(('content_item_not_unit', encode(h, s)))
    h, s = model('content')
    s['user_factors'] = [2.0, 0.0] + s['user_factors'][2:]
    out.append(('content_profile_not_unit', encode(h, s)))
    h, s = model('content')
    s['item_factors'] = [float('nan')] + s['item_factors'][1:]
    out.append(('content_item_nan', encode(h, s)))
    h, s = model('content')
    h['flags'] |= EXPLICIT
    out.append(('content_explicit_flag', encode(h, s)))
    h, s = model('content')
    h['global_mean'] = 0.5
    out.append(('content_with_a_mean', encode(h, s)))

    # hybrid: biases, a mean when implicit, factors beyond the limit, infinite
    h, s = model('hybrid')
    h['flags'] |= BIASES
    s['user_bias'] = [0.0] * 3
    s['item_bias'] = [0.0] * 4
    out.append(('hybrid_biases', encode(h, s)))
    h, s = model('hybrid')
    h['global_mean'] = 2.5
    out.append(('hybrid_implicit_with_a_mean', encode(h, s)))
    h, s = model('hybrid_explicit')
    s['item_factors'] = [2e17] + s['item_factors'][1:]
    out.append(('hybrid_factor_of_2e17', encode(h, s)))
    h, s = model('hybrid')
    s['user_factors'] = [float('-inf')] + s['user_factors'][1:]
    out.append(('hybrid_factor_infinite', encode(h, s)))
    h, s = model('hybrid')
    h['factors'] = 0
    out.append(('hybrid_no_factors', encode(h, s)))
    h, s = model('hybrid')
    out.append(('hybrid_truncated', encode(h, s)[:-16]))
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
    for name, b in edge_valid():
        with open(os.path.join(recv, 'v2_%s.bin' % name), 'wb') as f:
            f.write(b)
        with open(os.path.join(text, 'v2_%s.txt' % name), 'w') as f:
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
