//! Where everything on the board goes, in board coordinates (zoom 1, no pan). Pure geometry: no
//! painting and no input, so it is computed once per snapshot, never per frame.
//!
//! Lanes sit side by side, each as wide as its share of the nodes (with a minimum, so an empty
//! lane is still a place to drop a service). In each node group, tiles wrap into a grid that
//! fills the lane's width. The board's width is chosen so that the whole board has the
//! viewport's proportions: "Fit" then shows every node, however many there are, and zooming
//! only scales (tiles never jump around while the operator zooms).

use std::sync::Arc;

use egui::{Pos2, Rect, Vec2};

use crate::model::{
    ClusterSnapshot, GroupSummary, NodeOs, NodeTile, PodPlacement, Pressure, Search,
};

pub const TILE_WIDTH: f32 = 236.0;
pub const TILE_HEADER: f32 = 74.0;
pub const SQUARE: f32 = 11.0;
pub const GAP: f32 = 3.0;
pub const PADDING: f32 = 8.0;
pub const CHIP_HEIGHT: f32 = 18.0;
const LANE_GAP: f32 = 24.0;
/// The smallest share of the board's width a lane gets, whatever its node count.
const MIN_LANE_SHARE: f32 = 0.25;
/// Lane and group headers' height at zoom 1; at a smaller fitting zoom they are taller in
/// board units, so that their words stay readable when the board is fitted.
const LANE_HEADER: f32 = 32.0;
const GROUP_HEADER: f32 = 22.0;
/// How many unscheduled pods are listed one per line (the rest are counted): enough to read
/// what waits and why, few enough that a cluster with thousands waiting still fits the board at
/// a readable zoom (a line per pod for 200 of them shrank a fitted 100-node board to 10 %).
pub const UNSCHEDULED_LISTED: usize = 20;

/// One positioned thing.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    LaneHeader {
        lane: usize,
    },
    GroupHeader {
        lane: usize,
        group: usize,
    },
    Tile {
        lane: usize,
        group: usize,
        node: usize,
    },
    UnscheduledHeader {
        pods: usize,
    },
    Unscheduled {
        index: usize,
    },
}

#[derive(Clone, Debug)]
pub struct Placed {
    pub rect: Rect,
    pub item: Item,
}

/// The computed layout of one snapshot for one viewport and namespace filter.
pub struct Layout {
    pub snapshot: Arc<ClusterSnapshot>,
    /// The viewport it was made for (screen points).
    pub viewport: Vec2,
    /// The namespace filter it was made for.
    pub namespace: Option<String>,
    /// The board's width in board units (at least the viewport's).
    pub width: f32,
    pub items: Vec<Placed>,
    pub size: Vec2,
    /// Each lane's column, header to last tile: where a dragged service can be dropped.
    pub lanes: Vec<(NodeOs, Rect)>,
    /// Each node group's area (header and tiles), by lane and group index.
    pub groups: Vec<((usize, usize), Rect)>,
    /// Each node group's summary, by lane and group index, as `groups`.
    pub summaries: Vec<GroupSummary>,
    /// What a compact cell shows of each tile, by item index (default for other items):
    /// computed here once, so a zoomed-out frame reads no pod.
    pub cells: Vec<Cell>,
}

/// A node's shade and marks when drawn as a compact cell.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cell {
    /// [`NodeTile::pressure`] by each [`Pressure`], in [`Pressure::ALL`] order.
    pub pressure: [f32; Pressure::ALL.len()],
    /// [`NodeTile::has_problem`]: NotReady, or a pod on it fails.
    pub problem: bool,
}

impl Cell {
    fn of(tile: &NodeTile) -> Cell {
        Cell {
            pressure: Pressure::ALL.map(|measure| tile.pressure(measure)),
            problem: tile.has_problem(),
        }
    }

    /// The pressure by `measure`.
    pub fn pressure(&self, measure: Pressure) -> f32 {
        let index = Pressure::ALL
            .iter()
            .position(|m| *m == measure)
            .unwrap_or_default();
        self.pressure[index]
    }
}

/// Pods shown under the namespace filter.
pub fn visible<'a>(
    pods: &'a [Arc<PodPlacement>],
    namespace: Option<&'a str>,
) -> impl Iterator<Item = &'a PodPlacement> {
    pods.iter()
        .map(Arc::as_ref)
        .filter(move |p| namespace.is_none_or(|n| p.namespace == n))
}

pub fn squares_per_row() -> usize {
    ((TILE_WIDTH - 2.0 * PADDING + GAP) / (SQUARE + GAP)).floor() as usize
}

/// A detailed tile's height with `shown` pod squares and its service chips.
pub fn tile_height(node: &NodeTile, shown: usize) -> f32 {
    let rows = shown.div_ceil(squares_per_row()).max(1) as f32;
    // Four operation chips take two rows in a tile; a moved service's pod has one.
    let chip_rows = node.counts.chip_rows;
    TILE_HEADER + rows * (SQUARE + GAP) + chip_rows as f32 * (CHIP_HEIGHT + GAP) + PADDING
}

/// Tile heights by lane, group and node: the one pass over the pods a layout needs.
type Heights = Vec<Vec<Vec<f32>>>;

fn heights(snapshot: &ClusterSnapshot, namespace: Option<&str>) -> Heights {
    snapshot
        .lanes
        .iter()
        .map(|lane| {
            lane.groups
                .iter()
                .map(|group| {
                    group
                        .nodes
                        .iter()
                        .map(|node| {
                            // Unfiltered, the count is the list's length: no pod visited.
                            let shown = match namespace {
                                None => node.pods.len(),
                                Some(_) => visible(&node.pods, namespace).count(),
                            };
                            tile_height(node, shown)
                        })
                        .collect()
                })
                .collect()
        })
        .collect()
}

/// Each lane's share of the width: its share of the nodes, at least [`MIN_LANE_SHARE`] (the
/// lanes above the floor share what is left in proportion to their nodes).
fn lane_shares(snapshot: &ClusterSnapshot) -> Vec<f32> {
    let counts: Vec<f32> = snapshot
        .lanes
        .iter()
        .map(|l| l.node_count() as f32)
        .collect();
    let lanes = counts.len().max(1) as f32;
    let total: f32 = counts.iter().sum();
    if total <= 0.0 {
        return vec![1.0 / lanes; counts.len()];
    }
    let floor = MIN_LANE_SHARE.min(1.0 / lanes);
    let small: Vec<bool> = counts.iter().map(|c| c / total < floor).collect();
    let floored = small.iter().filter(|s| **s).count() as f32;
    let rest: f32 = counts
        .iter()
        .zip(&small)
        .filter(|(_, s)| !**s)
        .map(|(c, _)| c)
        .sum();
    counts
        .iter()
        .zip(&small)
        .map(|(c, s)| {
            if *s {
                floor
            } else {
                (1.0 - floor * floored) * c / rest
            }
        })
        .collect()
}

struct Arranged {
    items: Vec<Placed>,
    size: Vec2,
    lanes: Vec<(NodeOs, Rect)>,
    groups: Vec<((usize, usize), Rect)>,
}

/// Places everything for a board `width` wide; `label_scale` (≥ 1) makes the headers tall
/// enough to be read at the zoom that fits this width.
fn arrange(
    snapshot: &ClusterSnapshot,
    namespace: Option<&str>,
    heights: &Heights,
    width: f32,
    label_scale: f32,
) -> Arranged {
    let mut items = Vec::new();
    let mut lanes = Vec::new();
    let mut groups = Vec::new();
    let gaps = LANE_GAP * (snapshot.lanes.len().max(1) - 1) as f32;
    let shares = lane_shares(snapshot);
    let mut bottom: f32 = 0.0;
    let mut x0 = 0.0;
    for (li, lane) in snapshot.lanes.iter().enumerate() {
        let lane_width = ((width - gaps) * shares[li]).max(TILE_WIDTH + 2.0 * PADDING);
        let mut y = 0.0;
        let header = LANE_HEADER * label_scale;
        items.push(Placed {
            rect: Rect::from_min_size(Pos2::new(x0, y), Vec2::new(lane_width, header)),
            item: Item::LaneHeader { lane: li },
        });
        y += header + 8.0 * label_scale;
        let per_row = ((lane_width + 2.0 * GAP) / (TILE_WIDTH + 2.0 * GAP))
            .floor()
            .max(1.0) as usize;
        for (gi, group) in lane.groups.iter().enumerate() {
            let top = y;
            let header = GROUP_HEADER * label_scale;
            items.push(Placed {
                rect: Rect::from_min_size(Pos2::new(x0, y), Vec2::new(lane_width, header)),
                item: Item::GroupHeader {
                    lane: li,
                    group: gi,
                },
            });
            y += header + 4.0 * label_scale;
            for (ri, row) in group.nodes.chunks(per_row).enumerate() {
                let mut row_height: f32 = 0.0;
                for ci in 0..row.len() {
                    let node = ri * per_row + ci;
                    let h = heights[li][gi][node];
                    row_height = row_height.max(h);
                    items.push(Placed {
                        rect: Rect::from_min_size(
                            Pos2::new(x0 + ci as f32 * (TILE_WIDTH + 2.0 * GAP), y),
                            Vec2::new(TILE_WIDTH, h),
                        ),
                        item: Item::Tile {
                            lane: li,
                            group: gi,
                            node,
                        },
                    });
                }
                y += row_height + 2.0 * GAP;
            }
            groups.push((
                (li, gi),
                Rect::from_min_max(Pos2::new(x0, top), Pos2::new(x0 + lane_width, y)),
            ));
            y += 10.0;
        }
        if lane.node_count() == 0 {
            y += 24.0 * label_scale;
        }
        lanes.push((
            lane.os.clone(),
            Rect::from_min_size(Pos2::new(x0, 0.0), Vec2::new(lane_width, y.max(120.0))),
        ));
        bottom = bottom.max(y);
        x0 += lane_width + LANE_GAP;
    }
    let board_width = (x0 - LANE_GAP).max(width);
    let unscheduled: Vec<usize> = snapshot
        .unscheduled
        .iter()
        .enumerate()
        .filter(|(_, p)| namespace.is_none_or(|n| p.namespace == n))
        .map(|(i, _)| i)
        .collect();
    if !unscheduled.is_empty() {
        let mut y = bottom + 16.0;
        let header = 26.0 * label_scale;
        items.push(Placed {
            rect: Rect::from_min_size(Pos2::new(0.0, y), Vec2::new(board_width, header)),
            item: Item::UnscheduledHeader {
                pods: unscheduled.len(),
            },
        });
        y += header + 4.0;
        for index in unscheduled.into_iter().take(UNSCHEDULED_LISTED) {
            items.push(Placed {
                rect: Rect::from_min_size(
                    Pos2::new(0.0, y),
                    Vec2::new(board_width.min(900.0), 20.0),
                ),
                item: Item::Unscheduled { index },
            });
            y += 22.0;
        }
        bottom = y;
    }
    Arranged {
        items,
        size: Vec2::new(board_width, bottom),
        lanes,
        groups,
    }
}

impl Layout {
    /// Lays out `snapshot` for `viewport`. With `previous_width` (the width of the layout this
    /// one replaces, for the same viewport, filter and node count) the width is kept, so a new
    /// snapshot moves nothing; otherwise the narrowest width (at least the viewport's) whose
    /// board has the viewport's proportions is searched for.
    pub fn new(
        snapshot: &Arc<ClusterSnapshot>,
        namespace: Option<String>,
        viewport: Vec2,
        previous_width: Option<f32>,
    ) -> Layout {
        let heights = heights(snapshot, namespace.as_deref());
        let room = (viewport - Vec2::splat(2.0 * PADDING)).max(Vec2::splat(100.0));
        let aspect = room.y / room.x;
        let scale = |width: f32| (width / room.x).max(1.0);
        let try_width = |width: f32| {
            arrange(
                snapshot,
                namespace.as_deref(),
                &heights,
                width,
                scale(width),
            )
        };
        let fits = |arranged: &Arranged| arranged.size.y <= arranged.size.x * aspect;
        let width = match previous_width {
            Some(width) => width,
            None => {
                let narrowest = try_width(room.x);
                if fits(&narrowest) {
                    room.x
                } else {
                    // Wider boards are less tall; bisect for the narrowest one that fits.
                    let (mut low, mut high) = (room.x, room.x * 2.0);
                    while !fits(&try_width(high)) && high < room.x * 4096.0 {
                        low = high;
                        high *= 2.0;
                    }
                    for _ in 0..24 {
                        let middle = (low + high) / 2.0;
                        if fits(&try_width(middle)) {
                            high = middle;
                        } else {
                            low = middle;
                        }
                    }
                    high
                }
            }
        };
        let arranged = try_width(width);
        let summaries = arranged
            .groups
            .iter()
            .map(|((lane, group), _)| snapshot.lanes[*lane].groups[*group].summary())
            .collect();
        let cells = arranged
            .items
            .iter()
            .map(|placed| match placed.item {
                Item::Tile { lane, group, node } => {
                    Cell::of(&snapshot.lanes[lane].groups[group].nodes[node])
                }
                _ => Cell::default(),
            })
            .collect();
        Layout {
            cells,
            snapshot: snapshot.clone(),
            viewport,
            namespace,
            width,
            items: arranged.items,
            size: arranged.size,
            lanes: arranged.lanes,
            groups: arranged.groups,
            summaries,
        }
    }

    /// Whether this layout still serves `snapshot` for `viewport` and `namespace`: same snapshot
    /// → yes; a new snapshot with as many nodes keeps the width (see [`Layout::new`]).
    pub fn serves(
        &self,
        snapshot: &Arc<ClusterSnapshot>,
        viewport: Vec2,
        namespace: Option<&str>,
    ) -> bool {
        Arc::ptr_eq(&self.snapshot, snapshot) && self.same_frame(viewport, namespace)
    }

    /// Same viewport (within a point) and filter: the width may be kept for a new snapshot of
    /// as many nodes.
    pub fn keeps_width_for(
        &self,
        snapshot: &ClusterSnapshot,
        viewport: Vec2,
        namespace: Option<&str>,
    ) -> Option<f32> {
        (self.same_frame(viewport, namespace)
            && self.snapshot.nodes().count() == snapshot.nodes().count())
        .then_some(self.width)
    }

    fn same_frame(&self, viewport: Vec2, namespace: Option<&str>) -> bool {
        (self.viewport - viewport).abs().max_elem() <= 1.0 && self.namespace.as_deref() == namespace
    }

    /// The zoom at which the whole board shows in the viewport.
    pub fn fit_zoom(&self) -> f32 {
        let room = self.viewport - Vec2::splat(2.0 * PADDING);
        if self.size.x <= 0.0 || self.size.y <= 0.0 || room.x <= 0.0 || room.y <= 0.0 {
            return 1.0;
        }
        (room.x / self.size.x).min(room.y / self.size.y).min(1.0)
    }

    /// The tile at a board position, if any.
    pub fn tile_at(&self, at: Pos2) -> Option<(&Placed, &NodeTile)> {
        self.items.iter().find_map(|placed| match placed.item {
            Item::Tile { lane, group, node } if placed.rect.contains(at) => Some((
                placed,
                &*self.snapshot.lanes[lane].groups[group].nodes[node],
            )),
            _ => None,
        })
    }

    /// The first tile whose node's name, or one of whose pods (under the filter), matches
    /// `search`: where a search takes the operator.
    pub fn first_match(&self, search: &Search) -> Option<Rect> {
        if search.is_empty() {
            return None;
        }
        self.items
            .iter()
            .find(|placed| {
                self.tile(&placed.item)
                    .is_some_and(|tile| self.tile_matches(tile, search))
            })
            .map(|placed| placed.rect)
    }

    /// The node tile `item` draws, if it is one.
    pub fn tile(&self, item: &Item) -> Option<&Arc<NodeTile>> {
        let Item::Tile { lane, group, node } = *item else {
            return None;
        };
        self.snapshot.lanes[lane].groups[group].nodes.get(node)
    }

    /// Whether a search finds `tile`: its node's name, or one of its pods shown under the
    /// filter (by name or label).
    pub fn tile_matches(&self, tile: &NodeTile, search: &Search) -> bool {
        search.finds_in(&tile.name)
            || visible(&tile.pods, self.namespace.as_deref()).any(|p| search.finds(p))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // In a test, a panic on an unexpected shape is the failure report.

    use super::*;
    use crate::model::{NodeGroup, OsLane};

    fn tile(name: &str, os: NodeOs) -> NodeTile {
        NodeTile {
            name: name.into(),
            os,
            group: "g".into(),
            instance_type: None,
            windows_build: None,
            os_image: None,
            ready: true,
            unschedulable: false,
            taints: Vec::new(),
            taint_specs: Vec::new(),
            labels: Default::default(),
            internal_ip: None,
            pod_capacity: 29,
            cpu_allocatable_millis: 2000,
            memory_allocatable_bytes: 1 << 33,
            cpu_requested_millis: 0,
            memory_requested_bytes: 0,
            pods: Default::default(),
            usage: None,
            made_from: Default::default(),
            counts: Default::default(),
        }
    }

    fn snapshot(windows: usize, linux: usize) -> Arc<ClusterSnapshot> {
        let lane = |os: NodeOs, count: usize| OsLane {
            groups: vec![NodeGroup {
                name: os.label(),
                nodes: (0..count)
                    .map(|i| Arc::new(tile(&format!("n{i}"), os.clone())))
                    .collect(),
            }],
            os,
        };
        Arc::new(ClusterSnapshot {
            lanes: vec![lane(NodeOs::Windows, windows), lane(NodeOs::Linux, linux)],
            unscheduled: Vec::new(),
            topology: None,
            namespaces: Vec::new(),
            pod_count: 0,
        })
    }

    const VIEWPORT: Vec2 = Vec2::new(1400.0, 900.0);

    #[test]
    fn a_small_board_keeps_the_windows_width_and_needs_no_zoom() {
        let layout = Layout::new(&snapshot(2, 2), None, VIEWPORT, None);
        assert_eq!(layout.width, VIEWPORT.x - 2.0 * PADDING);
        assert_eq!(layout.fit_zoom(), 1.0);
    }

    #[test]
    fn lanes_share_the_width_by_nodes_with_a_quarter_at_least() {
        let layout = Layout::new(&snapshot(500, 4_500), None, VIEWPORT, None);
        let widths: Vec<f32> = layout.lanes.iter().map(|(_, r)| r.width()).collect();
        let share = widths[0] / (widths[0] + widths[1]);
        assert!((share - 0.25).abs() < 0.01, "Windows lane share {share}");
        let even = Layout::new(&snapshot(2_500, 2_500), None, VIEWPORT, None);
        let widths: Vec<f32> = even.lanes.iter().map(|(_, r)| r.width()).collect();
        assert!((widths[0] - widths[1]).abs() < 1.0);
    }

    #[test]
    fn a_big_board_takes_the_viewports_proportions_so_fit_shows_every_tile() {
        let layout = Layout::new(&snapshot(500, 4_500), None, VIEWPORT, None);
        let aspect = layout.size.y / layout.size.x;
        let viewport_aspect = (VIEWPORT.y - 2.0 * PADDING) / (VIEWPORT.x - 2.0 * PADDING);
        assert!(aspect <= viewport_aspect, "{aspect} > {viewport_aspect}");
        // Not needlessly wide: the height uses most of the viewport's proportion.
        assert!(
            aspect > viewport_aspect * 0.8,
            "{aspect} ≪ {viewport_aspect}"
        );
        // Tiles wrap into grids many columns wide.
        let linux: Vec<&Placed> = layout
            .items
            .iter()
            .filter(|p| matches!(p.item, Item::Tile { lane: 1, .. }))
            .collect();
        let top = linux.iter().map(|p| p.rect.min.y).fold(f32::MAX, f32::min);
        let linux_row = linux.iter().filter(|p| p.rect.min.y == top).count();
        assert!(linux_row >= 20, "{linux_row} tiles in the first Linux row");
    }

    #[test]
    fn a_new_snapshot_of_as_many_nodes_moves_nothing() {
        let first = Layout::new(&snapshot(500, 4_500), None, VIEWPORT, None);
        let again = snapshot(500, 4_500);
        let kept = first.keeps_width_for(&again, VIEWPORT, None);
        assert_eq!(kept, Some(first.width));
        let second = Layout::new(&again, None, VIEWPORT, kept);
        assert_eq!(first.items.len(), second.items.len());
        assert!(
            first
                .items
                .iter()
                .zip(&second.items)
                .all(|(a, b)| a.rect == b.rect)
        );
        // A node more, or another window size: the width is searched again.
        assert_eq!(
            first.keeps_width_for(&snapshot(500, 4_501), VIEWPORT, None),
            None
        );
        assert_eq!(
            first.keeps_width_for(&again, Vec2::new(1000.0, 900.0), None),
            None
        );
    }
}
